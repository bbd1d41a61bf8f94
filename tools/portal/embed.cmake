# Embeds a file into C++ as a byte array, at build time (no runtime file access):
#   cmake -DINPUT=index.html -DOUTPUT=portal_page.cc -P embed.cmake
# defines polmatch::http::internal::kPortalHtml[] (NUL-terminated) and kPortalHtmlSize.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by tools/portal/embed.cmake; do not edit.\n"
  "#include <cstddef>\n\n"
  "namespace polmatch::http::internal {\n"
  "extern const unsigned char kPortalHtml[] = {\n${bytes}0x00};\n"
  "extern const std::size_t kPortalHtmlSize = ${size};\n"
  "}  // namespace polmatch::http::internal\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
