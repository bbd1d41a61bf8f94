// libFuzzer target for the rule language: lexer, parser, checker and (on success) the reference
// evaluator and the Chinese renderer on a fixed firm. Inputs are bounded so deep recursion is caught by the parser's own
// depth limit, not the stack.
#include "tests/fuzz/fuzz_taxonomy.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/expr/eval.h"
#include "engine/expr/parser.h"
#include "engine/ingest/firm.h"
#include "engine/match/explain_zh.h"
#include "engine/util/dates.h"

namespace {

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string src(reinterpret_cast<const char*>(data), size);
  static polmatch::Firm firm = [] {
    polmatch::FirmProfile p;
    p.set_credit_code("91441502MA4W0PA9X8");
    p.set_region("441502");
    p.set_industry("I6513");
    p.set_founded("2019-03-01");
    (*p.mutable_facts())["revenue"] = "12345.675";
    (*p.mutable_facts())["employees"] = "0";
    p.add_tags()->set_id("qual.hitech");
    auto f = polmatch::FirmFromProfile(p, Tax());
    return f.ok() ? *f : polmatch::Firm{};
  }();
  for (polmatch::Type type : {polmatch::Type::kBool, polmatch::Type::kNumber}) {
    polmatch::ExprError err;
    auto node = polmatch::CompileExpr(src, Tax(), type, &err);
    if (!node.ok()) {
      if (err.offset > src.size()) std::abort();  // an error must point inside the input
      continue;
    }
    if (firm.facts.empty()) std::abort();  // the fixed firm must load
    polmatch::FirmView view(firm, Tax(), absl::CivilDay(2023, 6, 30));
    (void)polmatch::Evaluate(**node, view);
    const polmatch::ChineseRenderer zh(Tax());
    if (type == polmatch::Type::kBool) {
      if (zh.ConditionWithFirm(**node, view).empty()) std::abort();  // every condition reads as something
    } else {
      (void)zh.Computation(**node, view);
    }
    auto copy = (*node)->Clone();
    if (!copy->Equals(**node)) std::abort();
  }
  return 0;
}
