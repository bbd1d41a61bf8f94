#include "engine/util/textproto.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/input_file.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace polmatch {
namespace {

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  CollectErrors(const std::string& file, Diagnostics* diags) : file_(file), diags_(diags) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    diags_->Error(file_, line + 1, column + 1, message);
    ++errors_;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    diags_->Warning(file_, line + 1, column + 1, message);
  }
  int errors() const { return errors_; }

 private:
  const std::string& file_;
  Diagnostics* diags_;
  int errors_ = 0;
};

bool IsUtf8Continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Offset of the first byte of `s` that is not part of well-formed UTF-8 (no overlong forms,
// surrogates or code points above U+10FFFF), or npos.
size_t FirstInvalidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return i;
    for (int k = 2; k < len; ++k) {
      if (!IsUtf8Continuation(static_cast<unsigned char>(s[i + k]))) return i;
    }
    i += len;
  }
  return absl::string_view::npos;
}

// Reports every string field of `msg` (and of its sub-messages) that is not valid UTF-8.
// Recursion follows the message nesting, which the text-format parser bounds (100 levels).
bool CheckUtf8Fields(const std::string& file, const std::string& text,
                     const google::protobuf::Message& msg,
                     const google::protobuf::TextFormat::ParseInfoTree* tree, Diagnostics* diags) {
  using google::protobuf::FieldDescriptor;
  const auto* refl = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  bool ok = true;
  for (const FieldDescriptor* fd : fields) {
    const int n = fd->is_repeated() ? refl->FieldSize(msg, fd) : 1;
    for (int i = 0; i < n; ++i) {
      const int index = fd->is_repeated() ? i : -1;
      if (fd->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const auto& sub = fd->is_repeated() ? refl->GetRepeatedMessage(msg, fd, i)
                                            : refl->GetMessage(msg, fd);
        ok = CheckUtf8Fields(file, text, sub, tree ? tree->GetTreeForNested(fd, index) : nullptr,
                             diags) && ok;
        continue;
      }
      if (fd->type() != FieldDescriptor::TYPE_STRING) continue;
      std::string scratch;
      const std::string& value = fd->is_repeated()
                                     ? refl->GetRepeatedStringReference(msg, fd, i, &scratch)
                                     : refl->GetStringReference(msg, fd, &scratch);
      const size_t bad = FirstInvalidUtf8(value);
      if (bad == absl::string_view::npos) continue;
      ok = false;
      std::pair<int, int> pos{0, 0};
      if (tree != nullptr) {
        auto loc = tree->GetLocation(fd, index);
        if (loc.line >= 0) pos = LocateStringValue(text, loc.line, loc.column).At(bad);
      }
      diags->Error(file, pos.first, pos.second,
                   absl::StrCat(fd->name(), ": not valid UTF-8 at byte ", bad,
                                " of the value (save the file as UTF-8)"));
    }
  }
  return ok;
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) { return ReadRegularFile(path); }

bool ParseTextProto(const std::string& file, const std::string& text,
                    google::protobuf::Message* message, Diagnostics* diags,
                    google::protobuf::TextFormat::ParseInfoTree* tree) {
  CollectErrors collector(file, diags);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  google::protobuf::TextFormat::ParseInfoTree local_tree;
  if (tree == nullptr) tree = &local_tree;
  parser.WriteLocationsTo(tree);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  bool ok = parser.Parse(&input, message);
  if (!ok && collector.errors() == 0) diags->Error(file, 0, 0, "cannot parse text proto");
  if (!ok || collector.errors() != 0) return false;
  return CheckUtf8Fields(file, text, *message, tree, diags);
}

std::pair<int, int> SourceSpan::At(size_t byte) const {
  if (positions.empty()) return {0, 0};
  if (byte >= positions.size()) return positions.back();
  return positions[byte];
}

SourceSpan LocateStringValue(absl::string_view text, int line, int column) {
  SourceSpan span;
  // Find the byte offset of (line, column) as protobuf's tokenizer counts them: bytes, with tabs
  // advancing to the next multiple of 8.
  size_t pos = 0;
  for (int l = 0; l < line && pos < text.size(); ++pos) {
    if (text[pos] == '\n') ++l;
  }
  for (int col = 0; pos < text.size() && text[pos] != '\n' && col < column; ++pos) {
    col = text[pos] == '\t' ? col + 8 - col % 8 : col + 1;
  }
  // Track (line, character column) while walking: the column is counted once up to the field,
  // then moved along with each byte (never recounted from the line start).
  int cur_line = line + 1;
  size_t line_start = pos;
  while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
  int cur_col = 1;  // of text[pos]
  for (size_t i = line_start; i < pos; ++i) {
    if (!IsUtf8Continuation(static_cast<unsigned char>(text[i]))) ++cur_col;
  }
  const std::pair<int, int> field_pos{cur_line, cur_col};
  auto advance = [&]() {
    if (text[pos] == '\n') {
      ++cur_line;
      cur_col = 1;
    } else if (!IsUtf8Continuation(static_cast<unsigned char>(text[pos]))) {
      ++cur_col;  // the byte passed starts a character
    }
    ++pos;
  };
  auto skip_space_and_comments = [&]() {
    while (pos < text.size()) {
      if (text[pos] == '#') {
        while (pos < text.size() && text[pos] != '\n') advance();
      } else if (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r') {
        advance();
      } else {
        break;
      }
    }
  };
  // Field name, then ':'.
  while (pos < text.size() && (std::isalnum(static_cast<unsigned char>(text[pos])) ||
                               text[pos] == '_' || text[pos] == '.')) {
    advance();
  }
  skip_space_and_comments();
  if (pos < text.size() && text[pos] == ':') advance();
  skip_space_and_comments();
  bool any = false;
  while (pos < text.size() && (text[pos] == '"' || text[pos] == '\'')) {
    any = true;
    const char quote = text[pos];
    advance();
    while (pos < text.size() && text[pos] != quote && text[pos] != '\n') {
      const std::pair<int, int> here{cur_line, cur_col};
      if (text[pos] != '\\') {
        span.positions.push_back(here);
        advance();
        continue;
      }
      advance();  // backslash
      if (pos >= text.size()) break;
      char e = text[pos];
      int produced = 1;
      if (e >= '0' && e <= '7') {
        for (int k = 0; k < 3 && pos < text.size() && text[pos] >= '0' && text[pos] <= '7'; ++k) {
          advance();
        }
      } else if (e == 'x' || e == 'X') {
        advance();
        for (int k = 0; k < 2 && pos < text.size() && std::isxdigit(static_cast<unsigned char>(text[pos])); ++k) {
          advance();
        }
      } else if (e == 'u' || e == 'U') {
        int digits = e == 'u' ? 4 : 8;
        advance();
        uint32_t cp = 0;
        for (int k = 0; k < digits && pos < text.size() && std::isxdigit(static_cast<unsigned char>(text[pos])); ++k) {
          char h = text[pos];
          cp = cp * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          advance();
        }
        produced = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      } else {
        advance();
      }
      for (int k = 0; k < produced; ++k) span.positions.push_back(here);
    }
    span.positions.push_back({cur_line, cur_col});  // end of this literal
    if (pos < text.size() && text[pos] == quote) advance();
    skip_space_and_comments();
    if (pos < text.size() && (text[pos] == '"' || text[pos] == '\'')) {
      span.positions.pop_back();  // concatenated literal: the end marker moves on
    }
  }
  if (!any) span.positions.assign(1, field_pos);
  return span;
}

}  // namespace polmatch
