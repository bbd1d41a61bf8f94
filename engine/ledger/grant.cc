#include "engine/ledger/grant.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace polmatch {
namespace {

constexpr std::array<absl::string_view, 7> kStateNames = {
    "PROPOSED", "PUBLISHED", "OBJECTED", "APPROVED", "PAID", "WITHDRAWN", "RECOVERED"};

}  // namespace

absl::string_view StateName(GrantState s) { return kStateNames[static_cast<int>(s)]; }

std::optional<GrantState> ParseGrantState(absl::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<GrantState>(i);
  }
  return std::nullopt;
}

std::string PeriodOf(GrantPeriod period, absl::CivilDay as_of) {
  switch (period) {
    case YEARLY:
      return absl::StrCat(as_of.year());
    case QUARTERLY:
      return absl::StrCat(as_of.year(), "Q", (as_of.month() - 1) / 3 + 1);
    case MONTHLY:
      return absl::StrFormat("%04d-%02d", as_of.year(), as_of.month());
    default:
      return "ONCE";
  }
}

std::string GrantId(absl::string_view policy, absl::string_view credit_code, absl::string_view period) {
  return absl::StrCat(policy, "/", credit_code, "/", period);
}

int64_t ToFen(Decimal yuan) { return yuan.RoundHalfUp(2).raw() / (Decimal::kOne / 100); }

std::string FenToYuan(int64_t fen) {
  return Decimal::FromRawUnchecked(fen * (Decimal::kOne / 100)).ToFixed(2);
}

absl::StatusOr<int64_t> ParseYuanToFen(absl::string_view text) {
  absl::StatusOr<Decimal> d = Decimal::Parse(text);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("amount \"", text, "\": ", d.status().message()));
  if (d->is_negative()) return absl::InvalidArgumentError(absl::StrCat("amount \"", text, "\" is negative"));
  if (d->RoundHalfUp(2) != *d) {
    return absl::InvalidArgumentError(absl::StrCat("amount \"", text, "\" has more than two decimal places"));
  }
  return ToFen(*d);
}

}  // namespace polmatch
