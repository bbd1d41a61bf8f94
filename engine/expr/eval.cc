#include "engine/expr/eval.h"

#include "engine/taxonomy/taxonomy.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {

Value FromOptional(std::optional<Decimal> d) {
  return d ? Value::Number(*d) : Value::Unknown(/*fault=*/true);
}

// Three-way comparison of two known values of the same kind.
int CompareKnown(const Value& a, const Value& b) {
  switch (a.kind) {
    case Value::Kind::kNumber: return a.number < b.number ? -1 : a.number == b.number ? 0 : 1;
    case Value::Kind::kDate: return a.date < b.date ? -1 : a.date == b.date ? 0 : 1;
    case Value::Kind::kBool: return static_cast<int>(a.boolean) - static_cast<int>(b.boolean);
    case Value::Kind::kCode: return a.code < b.code ? -1 : a.code == b.code ? 0 : 1;
    case Value::Kind::kUnknown: return 0;
  }
  return 0;
}

Value Compare(Op op, const Value& a, const Value& b) {
  if (a.is_unknown() || b.is_unknown()) return Value::Unknown();
  const int c = CompareKnown(a, b);
  switch (op) {
    case Op::kLt: return Value::Bool(c < 0);
    case Op::kLe: return Value::Bool(c <= 0);
    case Op::kGt: return Value::Bool(c > 0);
    case Op::kGe: return Value::Bool(c >= 0);
    case Op::kEq: return Value::Bool(c == 0);
    case Op::kNe: return Value::Bool(c != 0);
    default: return Value::Unknown();
  }
}

Value EvalCall(const Node& n, const FirmEnv& env) {
  const auto& args = n.children;
  switch (n.func) {
    case Func::kMin:
    case Func::kMax: {
      Value best;
      for (const auto& a : args) {
        Value v = Evaluate(*a, env);
        if (v.is_unknown()) return v;
        if (best.is_unknown() || (n.func == Func::kMin ? v.number < best.number
                                                        : v.number > best.number)) {
          best = v;
        }
      }
      return best;
    }
    case Func::kAbs: {
      Value v = Evaluate(*args[0], env);
      if (v.is_unknown()) return v;
      return v.number.is_negative() ? FromOptional(Neg(v.number)) : v;
    }
    case Func::kIf: {
      Value c = Evaluate(*args[0], env);
      if (c.is_unknown()) return c;
      return Evaluate(*args[c.boolean ? 1 : 2], env);
    }
    case Func::kTier: {
      Value x = Evaluate(*args[0], env);
      if (x.is_unknown()) return x;
      std::optional<Decimal> best_threshold;
      Value amount = Value::Number(Decimal());
      for (size_t i = 1; i + 1 < args.size(); i += 2) {
        Value t = Evaluate(*args[i], env);
        if (t.is_unknown()) return t;
        if (t.number <= x.number && (!best_threshold || t.number > *best_threshold)) {
          Value a = Evaluate(*args[i + 1], env);
          if (a.is_unknown()) return a;
          best_threshold = t.number;
          amount = a;
        }
      }
      return amount;
    }
    case Func::kDate: return Value::Date(n.date);
    case Func::kYearsBetween:
    case Func::kDaysBetween: {
      Value a = Evaluate(*args[0], env);
      Value b = Evaluate(*args[1], env);
      if (a.is_unknown()) return a;
      if (b.is_unknown()) return b;
      const int64_t v = n.func == Func::kYearsBetween ? YearsBetween(a.date, b.date)
                                                      : static_cast<int64_t>(b.date - a.date);
      return FromOptional(Decimal::FromInt(v));
    }
    case Func::kValidFrom:
    case Func::kValidTo: {
      std::optional<absl::CivilDay> d = n.func == Func::kValidFrom
                                            ? env.TagValidFrom(args[0]->tag)
                                            : env.TagValidTo(args[0]->tag);
      return d ? Value::Date(*d) : Value::Unknown();
    }
    case Func::kHasFact: return Value::Bool(env.Fact(args[0]->fact).has_value());
    case Func::kUnknownFunc: return Value::Unknown();
  }
  return Value::Unknown();
}

}  // namespace

std::string Value::ToString() const {
  switch (kind) {
    case Kind::kUnknown: return "UNKNOWN";
    case Kind::kBool: return boolean ? "TRUE" : "FALSE";
    case Kind::kNumber: return number.ToString();
    case Kind::kDate: return FormatDate(date);
    case Kind::kCode: return std::string(code);
  }
  return "?";
}

Value Evaluate(const Node& n, const FirmEnv& env) {
  switch (n.kind) {
    case NodeKind::kNumber: return Value::Number(n.number);
    case NodeKind::kString: return Value::Code(n.text);
    case NodeKind::kBool: return Value::Bool(n.boolean);
    case NodeKind::kIdent: return Value::Unknown();  // unchecked tree
    case NodeKind::kTag: return Value::Bool(env.HoldsTag(n.tag));
    case NodeKind::kFact: {
      std::optional<Decimal> d = env.Fact(n.fact);
      return d ? Value::Number(*d) : Value::Unknown();
    }
    case NodeKind::kBuiltin:
      switch (n.builtin) {
        case Builtin::kRegion:
          return env.Region().empty() ? Value::Unknown() : Value::Code(env.Region());
        case Builtin::kIndustry:
          return env.Industry().empty() ? Value::Unknown() : Value::Code(env.Industry());
        case Builtin::kFounded: {
          std::optional<absl::CivilDay> d = env.Founded();
          return d ? Value::Date(*d) : Value::Unknown();
        }
        case Builtin::kAsOf: return Value::Date(env.AsOf());
      }
      return Value::Unknown();
    case NodeKind::kCall: return EvalCall(n, env);
    case NodeKind::kNeg: {
      Value v = Evaluate(*n.children[0], env);
      return v.is_unknown() ? v : FromOptional(Neg(v.number));
    }
    case NodeKind::kNot: {
      Value v = Evaluate(*n.children[0], env);
      return v.is_unknown() ? v : Value::Bool(!v.boolean);
    }
    case NodeKind::kAnd: {
      bool unknown = false;
      for (const auto& c : n.children) {
        Value v = Evaluate(*c, env);
        if (v.is_false()) return v;
        unknown = unknown || v.is_unknown();
      }
      return unknown ? Value::Unknown() : Value::Bool(true);
    }
    case NodeKind::kOr: {
      bool unknown = false;
      for (const auto& c : n.children) {
        Value v = Evaluate(*c, env);
        if (v.is_true()) return v;
        unknown = unknown || v.is_unknown();
      }
      return unknown ? Value::Unknown() : Value::Bool(false);
    }
    case NodeKind::kCompare:
      return Compare(n.op, Evaluate(*n.children[0], env), Evaluate(*n.children[1], env));
    case NodeKind::kIn: {
      Value x = Evaluate(*n.children[0], env);
      bool unknown = x.is_unknown();
      for (size_t i = 1; i < n.children.size(); ++i) {
        Value v = Compare(Op::kEq, x, Evaluate(*n.children[i], env));
        if (v.is_true()) return v;
        unknown = unknown || v.is_unknown();
      }
      return unknown ? Value::Unknown() : Value::Bool(false);
    }
    case NodeKind::kUnder: {
      Value x = Evaluate(*n.children[0], env);
      if (x.is_unknown()) return x;
      const bool region = n.children[0]->type == Type::kRegion;
      return Value::Bool(region ? Taxonomy::RegionUnder(x.code, n.text)
                                : Taxonomy::IndustryUnder(x.code, n.text));
    }
    case NodeKind::kArith: {
      Value a = Evaluate(*n.children[0], env);
      Value b = Evaluate(*n.children[1], env);
      if (a.is_unknown()) return a;
      if (b.is_unknown()) return b;
      switch (n.op) {
        case Op::kAdd: return FromOptional(Add(a.number, b.number));
        case Op::kSub: return FromOptional(Sub(a.number, b.number));
        case Op::kMul: return FromOptional(Mul(a.number, b.number));
        case Op::kDiv: return FromOptional(Div(a.number, b.number));
        default: return Value::Unknown();
      }
    }
  }
  return Value::Unknown();
}

}  // namespace polmatch
