#include "engine/expr/ast.h"

#include "absl/strings/str_cat.h"
#include "engine/util/dates.h"

namespace polmatch {

absl::string_view TypeName(Type t) {
  switch (t) {
    case Type::kUnresolved: return "unresolved";
    case Type::kBool: return "boolean";
    case Type::kNumber: return "number";
    case Type::kDate: return "date";
    case Type::kRegion: return "region code";
    case Type::kIndustry: return "industry code";
    case Type::kString: return "string";
  }
  return "?";
}

absl::string_view OpText(Op op) {
  switch (op) {
    case Op::kNone: return "";
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
  }
  return "?";
}

absl::string_view FuncName(Func f) {
  switch (f) {
    case Func::kUnknownFunc: return "?";
    case Func::kMin: return "min";
    case Func::kMax: return "max";
    case Func::kAbs: return "abs";
    case Func::kIf: return "if";
    case Func::kTier: return "tier";
    case Func::kDate: return "date";
    case Func::kYearsBetween: return "years_between";
    case Func::kDaysBetween: return "days_between";
    case Func::kValidFrom: return "valid_from";
    case Func::kValidTo: return "valid_to";
    case Func::kHasFact: return "has_fact";
  }
  return "?";
}

Node::~Node() {
  if (children.empty()) return;
  std::vector<std::unique_ptr<Node>> pending = std::move(children);
  while (!pending.empty()) {
    std::unique_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n == nullptr) continue;
    for (auto& c : n->children) pending.push_back(std::move(c));
    n->children.clear();
  }  // each node is freed with no children left, so no destructor recurses
}

void Node::CopyFieldsFrom(const Node& from) {
  kind = from.kind;
  type = from.type;
  begin = from.begin;
  end = from.end;
  number = from.number;
  boolean = from.boolean;
  text = from.text;
  op = from.op;
  func = from.func;
  builtin = from.builtin;
  tag = from.tag;
  fact = from.fact;
  date = from.date;
}

std::unique_ptr<Node> Node::Clone() const {
  auto n = std::make_unique<Node>();
  n->CopyFieldsFrom(*this);
  for (const auto& c : children) n->children.push_back(c->Clone());
  return n;
}

bool Node::Equals(const Node& o) const {
  if (kind != o.kind || type != o.type || children.size() != o.children.size()) return false;
  switch (kind) {
    case NodeKind::kNumber: if (number != o.number) return false; break;
    case NodeKind::kBool: if (boolean != o.boolean) return false; break;
    case NodeKind::kString:
    case NodeKind::kIdent:
    case NodeKind::kUnder: if (text != o.text) return false; break;
    case NodeKind::kTag: if (tag != o.tag) return false; break;
    case NodeKind::kFact: if (fact != o.fact) return false; break;
    case NodeKind::kBuiltin: if (builtin != o.builtin) return false; break;
    case NodeKind::kCall: if (func != o.func) return false; break;
    case NodeKind::kCompare:
    case NodeKind::kArith: if (op != o.op) return false; break;
    default: break;
  }
  for (size_t i = 0; i < children.size(); ++i) {
    if (!children[i]->Equals(*o.children[i])) return false;
  }
  return true;
}

std::string Node::ToString() const {
  auto kids = [&] {
    std::string s;
    for (const auto& c : children) absl::StrAppend(&s, " ", c->ToString());
    return s;
  };
  switch (kind) {
    case NodeKind::kNumber: return number.ToString();
    case NodeKind::kString: return absl::StrCat("\"", text, "\"");
    case NodeKind::kBool: return boolean ? "true" : "false";
    case NodeKind::kIdent:
    case NodeKind::kTag:
    case NodeKind::kFact:
    case NodeKind::kBuiltin: return text;
    case NodeKind::kCall:
      if (func == Func::kDate && type == Type::kDate) return absl::StrCat("date(", FormatDate(date), ")");
      return absl::StrCat("(", FuncName(func) == "?" ? text : std::string(FuncName(func)), kids(), ")");
    case NodeKind::kNeg: return absl::StrCat("(-", kids(), ")");
    case NodeKind::kNot: return absl::StrCat("(not", kids(), ")");
    case NodeKind::kAnd: return absl::StrCat("(and", kids(), ")");
    case NodeKind::kOr: return absl::StrCat("(or", kids(), ")");
    case NodeKind::kIn: return absl::StrCat("(in", kids(), ")");
    case NodeKind::kUnder: return absl::StrCat("(under", kids(), " \"", text, "\")");
    case NodeKind::kCompare:
    case NodeKind::kArith: return absl::StrCat("(", OpText(op), kids(), ")");
  }
  return "?";
}

}  // namespace polmatch
