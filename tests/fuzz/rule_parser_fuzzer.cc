// libFuzzer target for the rule language: lexer, parser, checker and (on success) the reference
// evaluator and the Chinese renderer on a fixed firm. As RE2's fuzzer does, the limits are fuzzed too: an input whose
// first byte is odd runs under tight RuleLimits (so the limits themselves are hit often), else
// under the defaults; an accepted tree must respect them. Inputs up to 128 KiB (past the default
// 64 KiB text limit) are taken; tests/fuzz/rule_parser.dict grows long chains and deep nesting.
#include "tests/fuzz/fuzz_taxonomy.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/expr/eval.h"
#include "engine/expr/parser.h"
#include "engine/ingest/firm.h"
#include "engine/match/explain_zh.h"
#include "engine/util/dates.h"

namespace {

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

}  // namespace

// Nodes and depth of a tree, without recursion.
std::pair<int, int> Measure(const polmatch::Node& root) {
  int nodes = 0, depth = 0;
  std::vector<std::pair<const polmatch::Node*, int>> stack = {{&root, 1}};
  while (!stack.empty()) {
    auto [n, d] = stack.back();
    stack.pop_back();
    ++nodes;
    depth = std::max(depth, d);
    for (const auto& c : n->children) stack.push_back({c.get(), d + 1});
  }
  return {nodes, depth};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (128 << 10)) return 0;
  const std::string src(reinterpret_cast<const char*>(data), size);
  polmatch::RuleLimits limits;
  if (size > 0 && (data[0] & 1)) {
    limits.max_expr_bytes = 64 + data[0] * 4;
    limits.max_expr_nodes = 1 + data[0] / 4;
    limits.max_expr_depth = 1 + data[0] / 16;
  }
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
    auto node = polmatch::CompileExpr(src, Tax(), type, &err, limits);
    if (!node.ok()) {
      if (err.offset > src.size()) std::abort();  // an error must point inside the input
      continue;
    }
    const auto [nodes, depth] = Measure(**node);
    if (src.size() > limits.max_expr_bytes || nodes > limits.max_expr_nodes ||
        depth > limits.max_expr_depth) {
      std::abort();  // accepted past a limit
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
