// Lexer, parser and type checker of the rule language: every grammar rule and every error.
#include "engine/expr/parser.h"

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::RealTaxonomy;

std::string Parsed(const std::string& src) {
  ExprError err;
  auto n = ParseExpr(src, &err);
  return n.ok() ? (*n)->ToString() : "ERROR@" + std::to_string(err.offset) + ": " + err.message;
}

std::string Checked(const std::string& src, Type type = Type::kBool) {
  ExprError err;
  auto n = CompileExpr(src, RealTaxonomy(), type, &err);
  return n.ok() ? (*n)->ToString() : "ERROR@" + std::to_string(err.offset) + ": " + err.message;
}

TEST(LexerTest, NumbersWithUnits) {
  ExprError err;
  auto toks = Tokenize("20% 1000万 1.5亿元 3元 0.5", &err);
  ASSERT_TRUE(toks.ok()) << err.message;
  ASSERT_EQ(toks->size(), 6u);
  EXPECT_EQ((*toks)[0].number.ToString(), "0.2");
  EXPECT_EQ((*toks)[1].number.ToString(), "10000000");
  EXPECT_EQ((*toks)[2].number.ToString(), "150000000");
  EXPECT_EQ((*toks)[3].number.ToString(), "3");
  EXPECT_EQ((*toks)[4].number.ToString(), "0.5");
  EXPECT_EQ((*toks)[5].kind, TokenKind::kEnd);
}

TEST(LexerTest, CommentsAndWhitespaceAreSkipped) {
  EXPECT_EQ(Parsed("a # the first\n  and b"), "(and a b)");
}

TEST(LexerTest, Errors) {
  EXPECT_EQ(Parsed("revenue > 5 @"), "ERROR@12: unexpected character '@'");
  EXPECT_EQ(Parsed("region under \"4415"), "ERROR@13: unterminated string");
  EXPECT_EQ(Parsed("revenue > 1.1234567"), "ERROR@10: more than 6 fractional digits cannot be held exactly: 1.1234567");
  EXPECT_EQ(Parsed("x > 99999999999999"), "ERROR@4: number out of range (|x| ≤ 9e12): 99999999999999");
  EXPECT_EQ(Parsed("x ＞ 1"), "ERROR@2: unexpected character '＞'");
}

TEST(ParserTest, Precedence) {
  EXPECT_EQ(Parsed("a or b and c"), "(or a (and b c))");
  EXPECT_EQ(Parsed("a || b && c"), "(or a (and b c))");
  EXPECT_EQ(Parsed("not a and b"), "(and (not a) b)");
  EXPECT_EQ(Parsed("! ! a"), "(not (not a))");
  EXPECT_EQ(Parsed("not x > 1"), "(not (> x 1))");
  EXPECT_EQ(Parsed("1 + 2 * 3 - 4 / 5"), "(- (+ 1 (* 2 3)) (/ 4 5))");
  EXPECT_EQ(Parsed("-x * -2"), "(* (- x) (- 2))");
  EXPECT_EQ(Parsed("(a or b) and c"), "(and (or a b) c)");
  EXPECT_EQ(Parsed("a and b and c"), "(and a b c)");
}

TEST(ParserTest, EveryComparison) {
  for (const char* op : {"<", "<=", ">", ">=", "==", "!="}) {
    EXPECT_EQ(Parsed(std::string("x ") + op + " 1"), std::string("(") + op + " x 1)");
  }
  EXPECT_EQ(Parsed("x in [1, 2, 3]"), "(in x 1 2 3)");
  EXPECT_EQ(Parsed("region under \"441500\""), "(under region \"441500\")");
  EXPECT_EQ(Parsed("true and false"), "(and true false)");
  EXPECT_EQ(Parsed("min(a, b)"), "(min a b)");
  EXPECT_EQ(Parsed("f()"), "(f)");
  EXPECT_EQ(Parsed("高新技术企业 and 年营业收入 > 1"), "(and 高新技术企业 (> 年营业收入 1))");
}

TEST(ParserTest, Errors) {
  EXPECT_EQ(Parsed(""), "ERROR@0: empty expression");
  EXPECT_EQ(Parsed("  # only a comment"), "ERROR@0: empty expression");
  EXPECT_EQ(Parsed("a and"), "ERROR@5: expected a value, found end of expression");
  EXPECT_EQ(Parsed("(a"), "ERROR@2: expected ')' to close '(', found end of expression");
  EXPECT_EQ(Parsed("min(a, b"), "ERROR@8: expected ')' to close the call of 'min', found end of expression");
  EXPECT_EQ(Parsed("x in 1"), "ERROR@5: expected '[' after 'in', found number 1");
  EXPECT_EQ(Parsed("x in [1, 2"), "ERROR@10: expected ']' to close the 'in' list, found end of expression");
  EXPECT_EQ(Parsed("region under 441500"), "ERROR@13: expected a code string after 'under', found number 441500");
  EXPECT_EQ(Parsed("a b"), "ERROR@2: unexpected identifier 'b' after a complete expression");
  EXPECT_EQ(Parsed("x < 1 < 2"), "ERROR@6: unexpected '<' after a complete expression");
  std::string deep(300, '(');
  EXPECT_NE(Parsed(deep + "a" + std::string(300, ')')).find("nested deeper than"), std::string::npos);
}

TEST(CheckerTest, ResolvesIdsAndAliases) {
  EXPECT_EQ(Checked("高新技术企业 and qual.hitech"), "(and 高新技术企业 qual.hitech)");
  ExprError err;
  auto n = CompileExpr("高企 and 年营业收入 >= 1000万", RealTaxonomy(), Type::kBool, &err);
  ASSERT_TRUE(n.ok()) << err.message;
  EXPECT_EQ((*n)->children[0]->kind, NodeKind::kTag);
  EXPECT_EQ((*n)->children[0]->tag, *RealTaxonomy().FindTag("qual.hitech"));
  EXPECT_EQ((*n)->children[1]->children[0]->fact, *RealTaxonomy().FindFact("revenue"));
}

TEST(CheckerTest, TypeErrors) {
  EXPECT_EQ(Checked("revenue"), "ERROR@0: type error: an eligibility rule needs a boolean, but this is a number");
  EXPECT_EQ(Checked("qual.hitech", Type::kNumber), "ERROR@0: type error: an amount needs a number, but this is a boolean");
  EXPECT_EQ(Checked("qual.hitech + 1 > 0"), "ERROR@0: type error: '+' needs a number, but this is a boolean");
  EXPECT_EQ(Checked("revenue and qual.hitech"), "ERROR@0: type error: 'and' needs a boolean, but this is a number");
  EXPECT_EQ(Checked("not revenue"), "ERROR@4: type error: 'not' needs a boolean, but this is a number");
  EXPECT_EQ(Checked("founded > 5"), "ERROR@0: type error: cannot compare a date with a number using '>'");
  EXPECT_EQ(Checked("qual.hitech < true"), "ERROR@0: type error: cannot compare a boolean with a boolean using '<'");
  EXPECT_EQ(Checked("revenue under \"440000\""), "ERROR@0: type error: 'under' needs region or industry, but this is a number");
  EXPECT_EQ(Checked("region under \"449999\""), "ERROR@13: \"449999\" is not a GB/T 2260 region code of the tag library");
  EXPECT_EQ(Checked("industry under \"I6\""), "ERROR@15: \"I6\" is not a GB/T 4754-2017 industry code of the tag library");
  EXPECT_EQ(Checked("region == \"12\""), "ERROR@10: \"12\" is not a GB/T 2260 region code of the tag library");
  EXPECT_EQ(Checked("revenue in [1, true]"), "ERROR@15: type error: 'in' list item is a boolean, the value tested is a number");
  EXPECT_EQ(Checked("-qual.hitech > 0"), "ERROR@1: type error: '-' needs a number, but this is a boolean");
}

TEST(CheckerTest, UnknownNamesAndFunctions) {
  EXPECT_EQ(Checked("turnover > 5"), "ERROR@0: unknown identifier 'turnover' (not a tag, fact or built-in of the tag library)");
  EXPECT_EQ(Checked("foo(1) > 5"), "ERROR@0: unknown function 'foo'");
}

TEST(CheckerTest, FunctionArity) {
  EXPECT_EQ(Checked("min() > 1"), "ERROR@0: 'min' takes at least 1 arguments, got 0");
  EXPECT_EQ(Checked("abs(1, 2) > 1"), "ERROR@0: 'abs' takes 1 argument, got 2");
  EXPECT_EQ(Checked("if(true, 1) > 1"), "ERROR@0: 'if' takes 3 arguments, got 2");
  EXPECT_EQ(Checked("tier(revenue, 1) > 1"), "ERROR@0: 'tier' takes a value and threshold/amount pairs (an odd number ≥ 3 of arguments), got 2");
  EXPECT_EQ(Checked("date(\"2023-02-30\") < as_of"), "ERROR@5: bad date \"2023-02-30\" (want YYYY-MM-DD)");
  EXPECT_EQ(Checked("date(founded) < as_of"), "ERROR@5: 'date' takes a string literal \"YYYY-MM-DD\"");
  EXPECT_EQ(Checked("valid_to(revenue) > as_of"), "ERROR@9: 'valid_to' takes a tag");
  EXPECT_EQ(Checked("has_fact(qual.hitech)"), "ERROR@9: 'has_fact' takes a fact id");
  EXPECT_EQ(Checked("years_between(founded, 3) > 1"), "ERROR@23: type error: 'years_between' needs a date, but this is a number");
  EXPECT_EQ(Checked("if(true, 1, false) > 1"), "ERROR@12: type error: the branches of 'if' must both be numbers, booleans or dates; got number and boolean");
}

TEST(CheckerTest, WellTypedFunctions) {
  for (const char* ok : {"min(revenue, 1) > max(1, 2, 3)", "abs(-revenue) >= 0",
                         "if(qual.hitech, 1, 2) == 1", "tier(revenue, 100万, 1, 500万, 2) > 0",
                         "years_between(founded, as_of) >= 1", "days_between(founded, date(\"2023-01-01\")) > 0",
                         "valid_to(qual.hitech) >= as_of", "valid_from(高企) <= as_of",
                         "has_fact(rd_expense)", "industry in [\"I65\", \"I64\"]", "region == \"440802\"",
                         "if(qual.hitech, founded, as_of) < as_of", "qual.hitech == true"}) {
    EXPECT_EQ(Checked(ok).rfind("ERROR", 0), std::string::npos) << ok << " → " << Checked(ok);
  }
}

TEST(CheckerTest, ActionableConditions) {
  ExprError err;
  auto n = CompileExpr("qual.hitech and region under \"440800\" and not credit.blacklist and revenue > 1 "
                       "and years_between(founded, as_of) >= 1 and valid_to(qual.hitech) > as_of",
                       RealTaxonomy(), Type::kBool, &err);
  ASSERT_TRUE(n.ok()) << err.message;
  auto conds = TopLevelConditions(**n);
  ASSERT_EQ(conds.size(), 6u);
  std::vector<bool> want = {true, false, false, true, false, true};
  for (size_t i = 0; i < conds.size(); ++i) EXPECT_EQ(IsActionable(*conds[i], RealTaxonomy()), want[i]) << i;
}

TEST(AstTest, CloneEqualsAndPrint) {
  ExprError err;
  auto a = CompileExpr("min(revenue * 20%, 200万) > 0 and region under \"441500\"", RealTaxonomy(), Type::kBool, &err);
  ASSERT_TRUE(a.ok());
  auto b = (*a)->Clone();
  EXPECT_TRUE((*a)->Equals(*b));
  EXPECT_EQ((*a)->ToString(), "(and (> (min (* revenue 0.2) 2000000) 0) (under region \"441500\"))");
  b->children[0]->children[1]->number = *Decimal::FromInt(1);
  EXPECT_FALSE((*a)->Equals(*b));
}

}  // namespace
}  // namespace polmatch
