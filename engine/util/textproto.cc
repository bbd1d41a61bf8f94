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

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) { return ReadRegularFile(path); }

bool ParseTextProto(const std::string& file, const std::string& text,
                    google::protobuf::Message* message, Diagnostics* diags,
                    google::protobuf::TextFormat::ParseInfoTree* tree) {
  CollectErrors collector(file, diags);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (tree != nullptr) parser.WriteLocationsTo(tree);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  bool ok = parser.Parse(&input, message);
  if (!ok && collector.errors() == 0) diags->Error(file, 0, 0, "cannot parse text proto");
  return ok && collector.errors() == 0;
}

std::pair<int, int> SourceSpan::At(size_t byte) const {
  if (positions.empty()) return {0, 0};
  if (byte >= positions.size()) return positions.back();
  return positions[byte];
}

SourceSpan LocateStringValue(const std::string& text, int line, int column) {
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
  // Track (line, character column) while walking.
  int cur_line = line + 1;
  size_t line_start = pos;
  while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
  auto char_col = [&](size_t p) {
    int c = 1;
    for (size_t i = line_start; i < p; ++i) {
      if (!IsUtf8Continuation(static_cast<unsigned char>(text[i]))) ++c;
    }
    return c;
  };
  const std::pair<int, int> field_pos{cur_line, char_col(pos)};
  auto advance = [&]() {
    if (text[pos] == '\n') {
      ++cur_line;
      line_start = pos + 1;
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
      const std::pair<int, int> here{cur_line, char_col(pos)};
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
    span.positions.push_back({cur_line, char_col(pos)});  // end of this literal
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
