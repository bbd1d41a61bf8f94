// File: firm.h
//
// Firm is one validated enterprise record with identifiers resolved against the tag library:
// facts in a dense vector by FactId (nullopt = unknown), tag grants by TagId. FirmFromProfile
// validates and converts a FirmProfile; FirmView answers the rule language's questions about a
// firm on one date (the reference FirmEnv).
#ifndef POLMATCH_INGEST_FIRM_H_
#define POLMATCH_INGEST_FIRM_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/expr/eval.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/decimal.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

struct TagGrantRecord {
  TagId tag;
  std::optional<absl::CivilDay> valid_from;  // nullopt = open
  std::optional<absl::CivilDay> valid_to;
  std::string source;

  bool HeldOn(absl::CivilDay day) const {
    return (!valid_from || *valid_from <= day) && (!valid_to || day <= *valid_to);
  }
};

struct Firm {
  std::string credit_code;
  std::string name;
  std::string region;                      // validated GB/T 2260 code; "" = a partial record
  std::string industry;                    // "" = unknown
  std::optional<absl::CivilDay> founded;   // nullopt = unknown
  std::vector<std::optional<Decimal>> facts;  // by FactId; size = taxonomy.num_facts()
  std::vector<TagGrantRecord> tags;

  // A partial record (SPEC §2): no region, so it only completes a firm an earlier source defines.
  bool partial() const { return region.empty(); }
};

// Validates every field (check digit, region, industry, dates, fact ids and values, tag ids) and
// converts. The error names the first problem, e.g. "unknown fact id \"turnover\"". Also refused:
// control characters in the name or a tag's source, and exponent notation outside a JSON number.
absl::StatusOr<Firm> FirmFromProfile(const FirmProfile& profile, const Taxonomy& taxonomy);
// The same for a record of a firm source (the readers), which may be partial: without a region it
// is accepted (as a Firm whose partial() is true) for the merge to fold into a firm an earlier
// source defines. A negative value of a fact counted in persons or items is refused ("fact
// employees: -3 is negative, but it counts persons"): an export error, not a firm.
absl::StatusOr<Firm> FirmFromRecord(const FirmProfile& profile, const Taxonomy& taxonomy);
// The inverse (facts in canonical decimal form), for tools and round-trip tests.
FirmProfile FirmToProfile(const Firm& firm, const Taxonomy& taxonomy);

// A Firm seen on one date: the reference evaluator's FirmEnv.
class FirmView : public FirmEnv {
 public:
  FirmView(const Firm& firm, const Taxonomy& taxonomy, absl::CivilDay as_of)
      : firm_(firm), tax_(taxonomy), as_of_(as_of) {}

  std::optional<Decimal> Fact(FactId id) const override { return firm_.facts[id.value]; }
  bool HoldsTag(TagId id) const override { return HoldingGrant(id) != nullptr; }
  std::optional<absl::CivilDay> TagValidFrom(TagId id) const override;
  std::optional<absl::CivilDay> TagValidTo(TagId id) const override;
  absl::string_view Region() const override { return firm_.region; }
  absl::string_view Industry() const override { return firm_.industry; }
  std::optional<absl::CivilDay> Founded() const override { return firm_.founded; }
  absl::CivilDay AsOf() const override { return as_of_; }
  const Firm& firm() const { return firm_; }

  // The grant by which the firm holds `id` on as_of (of the tag or a descendant): of several,
  // the one that ends last (an open end is last), then the one that starts first. nullptr if
  // the tag is not held.
  const TagGrantRecord* HoldingGrant(TagId id) const;

 private:
  const Firm& firm_;
  const Taxonomy& tax_;
  absl::CivilDay as_of_;
};

}  // namespace polmatch

#endif  // POLMATCH_INGEST_FIRM_H_
