#include "engine/match/row_program.h"

#include "engine/taxonomy/taxonomy.h"
#include "engine/util/dates.h"

namespace polmatch {

uint8_t ComparisonMask(Op op) {
  switch (op) {
    case Op::kLt: return 1;
    case Op::kLe: return 3;
    case Op::kGt: return 4;
    case Op::kGe: return 6;
    case Op::kEq: return 2;
    case Op::kNe: return 5;
    default: return 0;
  }
}

namespace {

bool IsNumber(const Node& n) { return n.type == Type::kNumber; }
bool IsBool(const Node& n) { return n.type == Type::kBool; }
bool IsDate(const Node& n) { return n.type == Type::kDate; }

}  // namespace

std::optional<RowProgram> RowProgram::Compile(const Node& n) {
  RowProgram p;
  if (p.Append(n) == kNone) return std::nullopt;
  return p;
}

uint32_t RowProgram::Append(const Node& n) {
  const size_t start = code_.size(), num_codes = codes_.size();
  if (start >= kNone || !Emit(n, 0)) {
    code_.resize(start);
    codes_.resize(num_codes);
    return kNone;
  }
  code_.emplace_back().code = Code::kEnd;
  return static_cast<uint32_t>(start);
}

bool RowProgram::Emit(const Node& n, int depth) {
  if (depth >= kMaxStack) return false;
  auto children = [&](size_t first) {
    for (size_t i = first; i < n.children.size(); ++i) {
      if (!Emit(*n.children[i], depth + static_cast<int>(i - first))) return false;
    }
    return true;
  };
  auto emit = [&](Code code, size_t operands = 0) {
    Instr in;
    in.code = code;
    in.n = static_cast<uint16_t>(operands);
    code_.push_back(in);
    return true;
  };
  if (n.children.size() > 0xffff) return false;
  switch (n.kind) {
    case NodeKind::kNumber:
      emit(Code::kConst);
      code_.back().k = n.number.raw();
      return true;
    case NodeKind::kBool:
      emit(Code::kConst);
      code_.back().k = n.boolean ? 1 : 0;
      return true;
    case NodeKind::kFact:
      emit(Code::kFact);
      code_.back().id = static_cast<int32_t>(n.fact.value);
      return true;
    case NodeKind::kTag:
      emit(Code::kTag);
      code_.back().id = static_cast<int32_t>(n.tag.value);
      return true;
    case NodeKind::kNeg:
      return IsNumber(n) && children(0) && emit(Code::kNeg);
    case NodeKind::kNot:
      return IsBool(*n.children[0]) && children(0) && emit(Code::kNot);
    case NodeKind::kAnd:
    case NodeKind::kOr:
      for (const auto& c : n.children) {
        if (!IsBool(*c)) return false;
      }
      return children(0) && emit(n.kind == NodeKind::kAnd ? Code::kAnd : Code::kOr, n.children.size());
    case NodeKind::kCompare:
      if (n.children.size() != 2 || ComparisonMask(n.op) == 0) return false;
      if (!(IsNumber(*n.children[0]) && IsNumber(*n.children[1])) &&
          !(IsDate(*n.children[0]) && IsDate(*n.children[1]))) {
        return false;
      }
      if (!children(0)) return false;
      emit(Code::kCompare, 2);
      code_.back().op_mask = ComparisonMask(n.op);
      return true;
    case NodeKind::kBuiltin:
      if (n.builtin == Builtin::kFounded) return emit(Code::kFounded);
      if (n.builtin == Builtin::kAsOf) return emit(Code::kAsOf);
      return false;
    case NodeKind::kUnder: {
      if (n.children.size() != 1 || n.children[0]->kind != NodeKind::kBuiltin) return false;
      const Builtin b = n.children[0]->builtin;
      if (b != Builtin::kRegion && b != Builtin::kIndustry) return false;
      emit(b == Builtin::kRegion ? Code::kRegionUnder : Code::kIndustryUnder);
      code_.back().id = static_cast<int32_t>(codes_.size());
      codes_.push_back(n.text);
      return true;
    }
    case NodeKind::kArith: {
      if (n.children.size() != 2 || !IsNumber(*n.children[0]) || !IsNumber(*n.children[1])) return false;
      Code code;
      switch (n.op) {
        case Op::kAdd: code = Code::kAdd; break;
        case Op::kSub: code = Code::kSub; break;
        case Op::kMul: code = Code::kMul; break;
        case Op::kDiv: code = Code::kDiv; break;
        default: return false;
      }
      return children(0) && emit(code, 2);
    }
    case NodeKind::kCall:
      switch (n.func) {
        case Func::kMin:
        case Func::kMax:
          if (n.children.empty()) return false;
          for (const auto& c : n.children) {
            if (!IsNumber(*c)) return false;
          }
          return children(0) && emit(n.func == Func::kMin ? Code::kMin : Code::kMax, n.children.size());
        case Func::kAbs:
          return n.children.size() == 1 && IsNumber(*n.children[0]) && children(0) && emit(Code::kAbs, 1);
        case Func::kIf:
          return n.children.size() == 3 && IsBool(*n.children[0]) && children(0) && emit(Code::kIf, 3);
        case Func::kTier:
          if (n.children.empty()) return false;
          for (const auto& c : n.children) {
            if (!IsNumber(*c)) return false;
          }
          return children(0) && emit(Code::kTier, n.children.size());
        case Func::kDate:
          emit(Code::kConst);
          code_.back().k = DayOf(n.date);
          return true;
        case Func::kYearsBetween:
        case Func::kDaysBetween:
          return n.children.size() == 2 && IsDate(*n.children[0]) && IsDate(*n.children[1]) &&
                 children(0) && emit(n.func == Func::kYearsBetween ? Code::kYearsBetween : Code::kDaysBetween, 2);
        case Func::kHasFact:
          if (n.children.size() != 1 || n.children[0]->kind != NodeKind::kFact) return false;
          emit(Code::kHasFact);
          code_.back().id = static_cast<int32_t>(n.children[0]->fact.value);
          return true;
        default:
          return false;
      }
    default:
      return false;
  }
}

RowProgram::Result RowProgram::Run(uint32_t start, const Row& row) const {
  Result stack[kMaxStack];
  int top = 0;  // next free slot
  auto number = [](std::optional<Decimal> d) { return d ? Result{true, d->raw()} : Result{}; };
  // A binary operation: pops the right operand into *b and leaves the left one on top, to be
  // replaced by the result; false (the result unknown) when either operand is unknown.
  auto operands = [&](Result* b) {
    *b = stack[--top];
    Result& a = stack[top - 1];
    if (a.known && b->known) return true;
    a = {};
    return false;
  };
  for (const Instr* next = code_.data() + start;; ++next) {
    const Instr& in = *next;
    switch (in.code) {
      case Code::kEnd:
        return stack[0];
      case Code::kConst:
        stack[top++] = {true, in.k};
        break;
      case Code::kFact: {
        const std::optional<Decimal>& f = row.facts[in.id];
        stack[top++] = f ? Result{true, f->raw()} : Result{};
        break;
      }
      case Code::kTag:
        stack[top++] = {true, static_cast<int64_t>((row.held[in.id / 64] >> (in.id % 64)) & 1)};
        break;
      case Code::kHasFact:
        stack[top++] = {true, row.facts[in.id].has_value() ? 1 : 0};
        break;
      case Code::kFounded:
        stack[top++] = row.founded_known ? Result{true, row.founded} : Result{};
        break;
      case Code::kAsOf:
        stack[top++] = {true, row.as_of};
        break;
      case Code::kYearsBetween:
      case Code::kDaysBetween: {
        Result b;
        if (!operands(&b)) break;
        Result& a = stack[top - 1];
        a = number(Decimal::FromInt(in.code == Code::kYearsBetween ? YearsBetween(DayFrom1970(a.raw), DayFrom1970(b.raw))
                                                                   : b.raw - a.raw));
        break;
      }
      case Code::kRegionUnder:
      case Code::kIndustryUnder: {
        const bool region = in.code == Code::kRegionUnder;
        const absl::string_view code = region ? row.region : row.industry;
        stack[top++] = code.empty() ? Result{}
                       : Result{true, (region ? Taxonomy::RegionUnder(code, codes_[in.id])
                                              : Taxonomy::IndustryUnder(code, codes_[in.id])) ? 1 : 0};
        break;
      }
      case Code::kNot:
        stack[top - 1].raw ^= 1;  // unknown stays unknown
        break;
      case Code::kAnd:
      case Code::kOr: {
        // Kleene: a false (and) / true (or) operand decides; else unknown if any is.
        const int64_t decisive = in.code == Code::kAnd ? 0 : 1;
        bool decided = false, unknown = false;
        top -= in.n;
        for (int i = 0; i < in.n; ++i) {
          const Result& v = stack[top + i];
          if (v.known && v.raw == decisive) decided = true;
          if (!v.known) unknown = true;
        }
        stack[top++] = decided ? Result{true, decisive} : unknown ? Result{} : Result{true, decisive ^ 1};
        break;
      }
      case Code::kCompare: {
        Result b;
        if (operands(&b)) stack[top - 1] = {true, CompareByMask(in.op_mask, stack[top - 1].raw, b.raw) ? 1 : 0};
        break;
      }
      case Code::kAdd:
      case Code::kSub:
      case Code::kMul:
      case Code::kDiv: {
        Result b;
        if (!operands(&b)) break;
        Result& a = stack[top - 1];
        const Decimal x = Decimal::FromRawUnchecked(a.raw), y = Decimal::FromRawUnchecked(b.raw);
        a = number(in.code == Code::kAdd   ? Add(x, y)
                   : in.code == Code::kSub ? Sub(x, y)
                   : in.code == Code::kMul ? Mul(x, y)
                                           : Div(x, y));
        break;
      }
      case Code::kNeg:
      case Code::kAbs: {
        Result& a = stack[top - 1];
        if (a.known && (in.code == Code::kNeg || a.raw < 0)) a = number(Neg(Decimal::FromRawUnchecked(a.raw)));
        break;
      }
      case Code::kMin:
      case Code::kMax: {
        top -= in.n;
        Result best = stack[top];
        for (int i = 0; i < in.n && best.known; ++i) {
          const Result& v = stack[top + i];
          if (!v.known) {
            best = {};
          } else if (in.code == Code::kMin ? v.raw < best.raw : v.raw > best.raw) {
            best = v;
          }
        }
        stack[top++] = best;
        break;
      }
      case Code::kIf: {
        top -= 3;
        const Result c = stack[top];
        stack[top] = !c.known ? Result{} : stack[top + (c.raw ? 1 : 2)];
        ++top;
        break;
      }
      case Code::kTier: {
        // As Evaluate: x unknown → unknown; thresholds in order, an unknown one → unknown; the
        // largest threshold ≤ x picks its amount (an unknown amount there → unknown); none → 0.
        top -= in.n;
        const Result* args = stack + top;
        Result amount{true, 0};
        if (!args[0].known) {
          amount = {};
        } else {
          bool have_best = false;
          int64_t best = 0;
          for (int i = 1; i + 1 < in.n; i += 2) {
            const Result& t = args[i];
            if (!t.known) {
              amount = {};
              break;
            }
            if (t.raw <= args[0].raw && (!have_best || t.raw > best)) {
              if (!args[i + 1].known) {
                amount = {};
                break;
              }
              have_best = true;
              best = t.raw;
              amount = args[i + 1];
            }
          }
        }
        stack[top++] = amount;
        break;
      }
    }
  }
}

}  // namespace polmatch
