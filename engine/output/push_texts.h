// File: push_texts.h
//
// PushTexts writes what each push of pushes.jsonl tells a firm (SPEC §5): the policy's title, a
// message in one or two Chinese sentences (what it may receive, what is missing, what changed or
// why the earlier push no longer applies), `missing` for a near miss, `data_needed` for an
// undetermined outcome and `lost_condition` for a revocation. The words are the engine's one
// Chinese renderer (engine/match/explain_zh.h) over tonight's catalog and firm data; firms are
// read in place from the FirmStore (no Firm is built per push). Deterministic; thread-safe.
//
// Example:
//   PushTexts texts(catalog, as_of, &store);   // firm ids = store rows (NightFromBulk)
//   StreamOptions o;
//   o.push_texts = &texts;
//   WritePushesJsonl(night, previous, sink, o);
#ifndef POLMATCH_OUTPUT_PUSH_TEXTS_H_
#define POLMATCH_OUTPUT_PUSH_TEXTS_H_

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/ingest/firm.h"
#include "engine/match/explain_zh.h"
#include "engine/output/night.h"

namespace polmatch {

class PushTexts : public PushTextSource {
 public:
  // Firm ids are rows of `store` (NightFromBulk).
  PushTexts(const Catalog& catalog, absl::CivilDay as_of, const FirmStore* store);
  // Firm ids are positions in `firms` (NightFromReference).
  PushTexts(const Catalog& catalog, absl::CivilDay as_of, const std::vector<Firm>* firms);

  int PolicyIndex(absl::string_view policy_id) const override { return catalog_.IndexOf(policy_id); }
  void Describe(const PushFacts& facts, PushWords* out) const override;

 private:
  void Describe(const PushFacts& facts, const FirmEnv* firm, PushWords* out) const;

  const Catalog& catalog_;
  absl::CivilDay as_of_;
  const FirmStore* store_ = nullptr;
  const std::vector<Firm>* firms_ = nullptr;
  ChineseRenderer zh_;
  std::vector<std::vector<std::string>> conditions_;  // Condition() of each policy's conditions
  std::vector<std::string> quoted_titles_;            // "「title」" of each policy
};

// A FirmEnv over one row of a FirmStore, read in place: what FirmView answers for
// store.ToFirm(row), without building the Firm.
class StoreRowView : public FirmEnv {
 public:
  StoreRowView(const FirmStore& store, const Taxonomy& taxonomy, uint32_t row, absl::CivilDay as_of)
      : store_(store), tax_(taxonomy), row_(row), as_of_(as_of) {}
  std::optional<Decimal> Fact(FactId id) const override { return store_.fact(row_, id); }
  bool HoldsTag(TagId id) const override { return Holding(id).held; }
  std::optional<absl::CivilDay> TagValidFrom(TagId id) const override;
  std::optional<absl::CivilDay> TagValidTo(TagId id) const override;
  absl::string_view Region() const override { return store_.region(row_); }
  absl::string_view Industry() const override { return store_.industry(row_); }
  std::optional<absl::CivilDay> Founded() const override { return store_.founded(row_); }
  absl::CivilDay AsOf() const override { return as_of_; }

 private:
  struct Grant {
    bool held = false;
    int32_t from = kOpenFrom, to = kOpenTo;
  };
  // The grant by which the row holds `id` (FirmView::HoldingGrant's choice).
  Grant Holding(TagId id) const;

  const FirmStore& store_;
  const Taxonomy& tax_;
  uint32_t row_;
  absl::CivilDay as_of_;
};

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_PUSH_TEXTS_H_
