// File: firm_generator.h
//
// FirmGenerator writes a synthetic enterprise registry for demos and benchmarks (`polmatch gen
// --firms`), one FirmProfile per JSON Lines record, with the skew of a real one (bench/README.md):
//  * regions: county codes of the selected provinces/cities, Zipf over cities (big cities heavy);
//  * industries: GB/T 4754 sections with census-like weights (F trade and C manufacturing lead),
//    divisions within them, the finest listed class where the tag library has one;
//  * founding dates 30 years back from as_of, more of them recent;
//  * size log-normal and correlated: median ~15 employees and ~3 million yuan revenue;
//    revenue_last_year from a growth spread; tax_paid from a tax rate; rd_expense for about a
//    third (the "innovative" firms), which also get patents, tech staff and the like;
//  * about 10% of each fact missing (omitted = unknown, never zero);
//  * tags at real rates (qual.hitech ~2%, qual.sme_tech ~4%, qual.specialized ~1%,
//    stat.above_scale ~6%, credit.blacklist ~3%, credit.abnormal ~5%, org.* rare), qualifications
//    with validity windows (高企 certificates three years; some already expired on as_of);
//  * valid, unique GB 32100 credit codes: "91" + county + organisation code (with its GB 11714
//    check character) + check character.
//
// Firm i depends only on the seed, the options, the tag library and i (never on how many
// follow), so a smaller registry is a prefix of a bigger one with the same seed.
//
// Example:
//   ASSIGN_OR_RETURN(FirmGenerator gen, FirmGenerator::Create(taxonomy, options));
//   std::string buffer;
//   for (int64_t i = 0; i < n; ++i) gen.AppendNext(&buffer);
#ifndef POLMATCH_GEN_FIRM_GENERATOR_H_
#define POLMATCH_GEN_FIRM_GENERATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/gen/geography.h"
#include "engine/gen/options.h"
#include "engine/gen/random.h"
#include "engine/taxonomy/taxonomy.h"

namespace polmatch::gen {

class FirmGenerator {
 public:
  // Fails when a region is unknown or the tag library lacks a tag or fact the generator writes.
  static absl::StatusOr<FirmGenerator> Create(const Taxonomy& taxonomy, const GenOptions& options);

  // Appends the next firm as one line of JSON (the protobuf JSON mapping of FirmProfile,
  // snake_case names, facts as decimal strings), ending in '\n'.
  void AppendNext(std::string* out);
  int64_t generated() const { return next_; }

  // Largest registry with unique credit codes (31^8 organisation codes).
  static constexpr int64_t kMaxFirms = 852891037441LL;

 private:
  struct Section {
    char letter = 0;
    double innovative_share = 0;           // share of firms doing R&D
    std::vector<std::string> name_words;   // "科技", "贸易", … for firm names
    std::vector<std::vector<std::string>> division_codes;  // finest listed codes per division
    std::vector<double> division_cumulative;
  };

  FirmGenerator(GenOptions options, Geography geography)
      : options_(std::move(options)), geo_(std::move(geography)), rng_(options_.seed) {}

  void AppendCreditCode(const std::string& county, std::string* out);
  // Appends one TagGrant to `out` (the "tags" member, opened on the first call per firm).
  void AppendTag(const char* id, const char* source, std::optional<absl::CivilDay> from,
                 std::optional<absl::CivilDay> to, std::string* out);

  GenOptions options_;
  Geography geo_;
  GenRandom rng_;
  int64_t next_ = 0;
  std::vector<Section> sections_;
  std::vector<double> section_cumulative_;
  absl::CivilDay first_founding_day_;
  int64_t founding_span_days_ = 0;
  uint64_t code_multiplier_ = 1;
  uint64_t code_offset_ = 0;
  std::string tag_buffer_;  // the current firm's "tags" member
  bool any_tag_ = false;    // a tag was written to tag_buffer_ already
};

}  // namespace polmatch::gen

#endif  // POLMATCH_GEN_FIRM_GENERATOR_H_
