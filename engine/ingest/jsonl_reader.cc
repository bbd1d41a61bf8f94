#include "engine/ingest/jsonl_reader.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/util/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch {
namespace ingest_internal {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool StartsNumber(char c) { return c == '-' || IsDigit(c); }

// The plain shape: {"credit_code": "…", …, "facts": {"id": "1.5" | 1.5 | null, …},
// "tags": [{"id": "…", "valid_from": "…", …}, …]} with each field at most once, strings without
// escapes or control characters, and nothing after the object.
class FastFirmParser {
 public:
  FastFirmParser(absl::string_view text, FirmProfile* profile) : s_(text), p_(profile) {}

  bool Parse() {
    if (!IsValidUtf8(s_)) return false;
    p_->Clear();
    if (!Consume('{')) return false;
    if (!Consume('}')) {
      unsigned seen = 0;
      do {
        absl::string_view key, value;
        if (!String(&key) || !Consume(':')) return false;
        const int field = TopLevelField(key);
        if (field < 0 || (seen & (1u << field)) != 0) return false;
        seen |= 1u << field;
        if (field == kFacts) {
          if (!Facts()) return false;
          continue;
        }
        if (field == kTags) {
          if (!Tags()) return false;
          continue;
        }
        if (!String(&value)) return false;
        std::string* target = field == kCreditCode ? p_->mutable_credit_code()
                              : field == kName     ? p_->mutable_name()
                              : field == kRegion   ? p_->mutable_region()
                              : field == kIndustry ? p_->mutable_industry()
                                                   : p_->mutable_founded();
        target->assign(value.data(), value.size());
      } while (Consume(','));
      if (!Consume('}')) return false;
    }
    SkipSpace();
    return i_ == s_.size();
  }

 private:
  enum Field { kCreditCode, kName, kRegion, kIndustry, kFounded, kFacts, kTags };

  static int TopLevelField(absl::string_view key) {
    if (key == "credit_code" || key == "creditCode") return kCreditCode;
    if (key == "name") return kName;
    if (key == "region") return kRegion;
    if (key == "industry") return kIndustry;
    if (key == "founded") return kFounded;
    if (key == "facts") return kFacts;
    if (key == "tags") return kTags;
    return -1;
  }

  void SkipSpace() {
    while (i_ < s_.size() && IsJsonSpace(s_[i_])) ++i_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A string without escapes or control characters; `out` excludes the quotes.
  bool String(absl::string_view* out) {
    if (!Consume('"')) return false;
    const size_t start = i_;
    for (; i_ < s_.size(); ++i_) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        *out = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
    }
    return false;
  }

  bool Facts() {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    auto* facts = p_->mutable_facts();
    do {
      absl::string_view key, value;
      if (!String(&key) || !Consume(':')) return false;
      SkipSpace();
      if (i_ == s_.size()) return false;
      if (s_[i_] == '"') {
        if (!String(&value)) return false;
      } else if (StartsNumber(s_[i_])) {
        const size_t len = NumberTokenLength(s_, i_);
        value = s_.substr(i_, len);
        if (ExpandJsonExponent(value, &number_) == ExponentForm::kExpanded) value = number_;
        i_ += len;
      } else if (s_.substr(i_, 4) == "null") {
        i_ += 4;  // unknown, as protobuf reads it: an empty string
      } else {
        return false;
      }
      key_.assign(key.data(), key.size());
      auto [it, inserted] = facts->try_emplace(key_);
      if (!inserted) return false;  // protobuf: "Repeated map key"
      it->second.assign(value.data(), value.size());
    } while (Consume(','));
    return Consume('}');
  }

  bool Tags() {
    if (!Consume('[')) return false;
    if (Consume(']')) return true;
    do {
      if (!Consume('{')) return false;
      TagGrant* grant = p_->add_tags();
      if (Consume('}')) continue;
      unsigned seen = 0;
      do {
        absl::string_view key, value;
        if (!String(&key) || !Consume(':') || !String(&value)) return false;
        std::string* target;
        int bit;
        if (key == "id") {
          target = grant->mutable_id(), bit = 0;
        } else if (key == "valid_from" || key == "validFrom") {
          target = grant->mutable_valid_from(), bit = 1;
        } else if (key == "valid_to" || key == "validTo") {
          target = grant->mutable_valid_to(), bit = 2;
        } else if (key == "source") {
          target = grant->mutable_source(), bit = 3;
        } else {
          return false;
        }
        if ((seen & (1u << bit)) != 0) return false;
        seen |= 1u << bit;
        target->assign(value.data(), value.size());
      } while (Consume(','));
      if (!Consume('}')) return false;
    } while (Consume(','));
    return Consume(']');
  }

  absl::string_view s_;
  size_t i_ = 0;
  FirmProfile* p_;
  std::string key_;
  std::string number_;
};

// A tolerant scan of the top level for "facts", copying `text` to `out` with fact numbers quoted.
class FactNumberQuoter {
 public:
  FactNumberQuoter(absl::string_view text, std::string* out) : s_(text), out_(out) {}

  bool Run() {
    TopLevel();
    if (!changed_) return false;
    out_->append(s_.data() + copied_, s_.size() - copied_);
    return true;
  }

 private:
  void TopLevel() {
    SkipSpace();
    if (!Consume('{')) return;
    for (;;) {
      SkipSpace();
      if (At('}') || i_ == s_.size()) return;
      absl::string_view key;
      if (!Key(&key)) return;
      SkipSpace();
      if (!Consume(':')) return;
      SkipSpace();
      if (key == "facts" && At('{')) {
        ++i_;
        if (!Facts()) return;
      } else if (!SkipValue()) {
        return;
      }
      SkipSpace();
      if (!Consume(',')) return;
    }
  }

  bool Facts() {
    for (;;) {
      SkipSpace();
      if (Consume('}')) return true;
      absl::string_view key;
      if (!Key(&key)) return false;
      SkipSpace();
      if (!Consume(':')) return false;
      SkipSpace();
      if (i_ < s_.size() && StartsNumber(s_[i_])) {
        const size_t len = NumberTokenLength(s_, i_);
        if (!changed_) out_->clear();
        changed_ = true;
        out_->append(s_.data() + copied_, i_ - copied_);
        out_->push_back('"');
        const absl::string_view token = s_.substr(i_, len);
        if (ExpandJsonExponent(token, &number_) == ExponentForm::kExpanded) {
          out_->append(number_);
        } else {
          out_->append(token.data(), token.size());
        }
        out_->push_back('"');
        i_ += len;
        copied_ = i_;
      } else if (!SkipValue()) {
        return false;
      }
      SkipSpace();
      if (Consume('}')) return true;
      if (!Consume(',')) return false;
    }
  }

  void SkipSpace() {
    while (i_ < s_.size() && IsJsonSpace(s_[i_])) ++i_;
  }
  bool At(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Consume(char c) {
    if (!At(c)) return false;
    ++i_;
    return true;
  }
  // A string in double or single quotes (protobuf accepts both), escapes skipped.
  bool QuotedString(absl::string_view* content) {
    const char quote = s_[i_];
    const size_t start = ++i_;
    for (; i_ < s_.size(); ++i_) {
      if (s_[i_] == '\\') {
        ++i_;
      } else if (s_[i_] == quote) {
        *content = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
    }
    return false;
  }
  // A quoted key, or a bare one (protobuf accepts {facts: …}).
  bool Key(absl::string_view* key) {
    if (At('"') || At('\'')) return QuotedString(key);
    const size_t start = i_;
    while (i_ < s_.size() && (IsDigit(s_[i_]) || s_[i_] == '_' || s_[i_] == '$' ||
                              ((s_[i_] | 0x20) >= 'a' && (s_[i_] | 0x20) <= 'z'))) {
      ++i_;
    }
    *key = s_.substr(start, i_ - start);
    return i_ > start;
  }
  // Any value: a string, a balanced object or array (iteratively), or a scalar token.
  bool SkipValue() {
    if (i_ == s_.size()) return false;
    absl::string_view ignored;
    if (At('"') || At('\'')) return QuotedString(&ignored);
    if (At('{') || At('[')) {
      int depth = 0;
      while (i_ < s_.size()) {
        const char c = s_[i_];
        if (c == '"' || c == '\'') {
          if (!QuotedString(&ignored)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        ++i_;
        if (depth == 0) return true;
      }
      return false;
    }
    const size_t start = i_;
    while (i_ < s_.size() && !IsJsonSpace(s_[i_]) && s_[i_] != ',' && s_[i_] != '}' &&
           s_[i_] != ']') {
      ++i_;
    }
    return i_ > start;
  }

  absl::string_view s_;
  std::string* out_;
  size_t i_ = 0;
  size_t copied_ = 0;  // s_[0, copied_) is in *out_
  bool changed_ = false;
  std::string number_;
};

// protobuf's messages look like "Expected : between key:value pair.\n<input>\n      ^" or
// "turnover: Cannot find field."; the result is one line naming what is wrong and where.
std::string DescribeJsonError(absl::string_view message) {
  std::vector<absl::string_view> parts = absl::StrSplit(message, '\n');
  absl::string_view what = absl::StripAsciiWhitespace(parts[0]);
  constexpr absl::string_view kCannotFind = ": Cannot find field.";
  if (absl::EndsWith(what, kCannotFind)) {
    what.remove_suffix(kCannotFind.size());
    return absl::StrCat("unknown field \"", what, "\"");
  }
  if (absl::EndsWith(what, ".")) what.remove_suffix(1);
  std::string out = absl::StrCat("malformed JSON: ", what);
  if (parts.size() >= 3) {
    const size_t caret = parts[2].find('^');
    if (caret != absl::string_view::npos && caret < parts[1].size()) {
      absl::string_view near = parts[1].substr(caret);
      size_t cut = std::min<size_t>(near.size(), 24);
      while (cut < near.size() && (static_cast<unsigned char>(near[cut]) & 0xC0) == 0x80) --cut;
      absl::StrAppend(&out, " at \"", near.substr(0, cut), cut < near.size() ? "…" : "", "\"");
    }
  }
  return out;
}

}  // namespace

size_t NumberTokenLength(absl::string_view text, size_t pos) {
  size_t i = pos;
  while (i < text.size()) {
    const char c = text[i];
    if (!IsDigit(c) && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E') break;
    ++i;
  }
  return i - pos;
}

bool QuoteFactNumbers(absl::string_view text, std::string* out) {
  return FactNumberQuoter(text, out).Run();
}

bool ParseFirmJsonFast(absl::string_view text, FirmProfile* profile) {
  return FastFirmParser(text, profile).Parse();
}

absl::Status ParseFirmJsonWithProtobuf(absl::string_view text, FirmProfile* profile,
                                       std::string* scratch) {
  static const google::protobuf::util::JsonParseOptions* const kOptions = [] {
    auto* options = new google::protobuf::util::JsonParseOptions;
    options->ignore_unknown_fields = false;
    return options;
  }();
  if (QuoteFactNumbers(text, scratch)) text = *scratch;
  profile->Clear();
  const google::protobuf::util::Status status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), profile, *kOptions);
  if (status.ok()) return absl::OkStatus();
  const google::protobuf::StringPiece message = status.message();
  return absl::InvalidArgumentError(
      DescribeJsonError(absl::string_view(message.data(), message.size())));
}

absl::Status ParseFirmJsonInto(absl::string_view text, FirmProfile* profile,
                               std::string* scratch) {
  if (ParseFirmJsonFast(text, profile)) return absl::OkStatus();
  // The fast path takes no control character and no invalid UTF-8; protobuf would take raw
  // control characters inside a string, and words bad UTF-8 without a position.
  size_t bad = 0;
  if (!IsValidUtf8(text, &bad)) {
    int column = 1;
    for (size_t i = 0; i < bad; ++i) column += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    return absl::InvalidArgumentError(absl::StrFormat(
        "column %d: invalid UTF-8 (byte \\x%02x; a GB18030 file needs --encoding gb18030)", column,
        static_cast<unsigned char>(text[bad])));
  }
  unsigned char byte = 0;
  if (const int column = RawControlInJsonString(text, &byte); column > 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "column %d: raw control character \\x%02x inside a string (JSON needs it escaped, "
        "as \\u%04x)",
        column, byte, byte));
  }
  return ParseFirmJsonWithProtobuf(text, profile, scratch);
}

absl::Status ReadJsonLines(LineReader& lines, IngestTally& tally, const Taxonomy& taxonomy,
                           const RecordSink& sink) {
  FirmProfile profile;
  std::string scratch;
  absl::string_view line;
  while (lines.Next(&line)) {
    if (IsBlank(line)) continue;
    absl::Status parsed = ParseFirmJsonInto(line, &profile, &scratch);
    if (!parsed.ok()) {
      if (tally.Mine(nullptr)) tally.Reject(lines.line_number(), parsed.message());
      continue;
    }
    if (!tally.Mine(&profile)) continue;
    absl::StatusOr<Firm> firm = FirmFromRecord(profile, taxonomy);
    if (!firm.ok()) {
      tally.Reject(lines.line_number(), firm.status().message());
      continue;
    }
    tally.Offer(sink, std::move(*firm), lines.line_number());
  }
  return lines.status();
}

}  // namespace ingest_internal

absl::StatusOr<FirmProfile> ParseFirmJson(absl::string_view line) {
  FirmProfile profile;
  std::string scratch;
  RETURN_IF_ERROR(ingest_internal::ParseFirmJsonInto(line, &profile, &scratch));
  return profile;
}

}  // namespace polmatch
