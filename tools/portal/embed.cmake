# Embeds a file into C++ as a byte array, at build time (no runtime file access):
#   cmake -DINPUT=index.html -DOUTPUT=portal_page.cc [-DTAXONOMY=rules/taxonomy] -P embed.cmake
# defines polmatch::http::internal::kPortalHtml[] (NUL-terminated) and kPortalHtmlSize.
#
# With TAXONOMY, the page's placeholder `/*=TAXONOMY=*/null` becomes the tag library the 政策计算器
# offers: GB/T 2260 regions and GB/T 4754 industries (code + name, one string each) and every tag
# and fact of tags.textproto (id, name, parent or unit, actionable). Each entry must be on one
# line (as the files are written); an entry this cannot read stops the build.
cmake_minimum_required(VERSION 3.16)
file(READ "${INPUT}" page)

# "code { code: "441500" name: "汕尾市" }" lines → "441500汕尾市|…"
function(code_list file out)
  file(STRINGS "${file}" lines ENCODING UTF-8 REGEX "code[ \t]*{")
  set(items "")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^code { code: \"([0-9A-Z]+)\" name: \"([^\"\\\\<>|]+)\" }$")
      message(FATAL_ERROR "${file}: cannot read for the portal: ${line}")
    endif()
    string(APPEND items "${CMAKE_MATCH_1}${CMAKE_MATCH_2}|")
  endforeach()
  string(REGEX REPLACE "\\|$" "" items "${items}")
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

function(field line name out)
  if(line MATCHES "[ {]${name}: \"([^\"\\\\<>]*)\"")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  elseif(line MATCHES "[ {]${name}: ([A-Z_a-z]+)")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

if(TAXONOMY)
  code_list("${TAXONOMY}/regions.textproto" regions)
  code_list("${TAXONOMY}/industries.textproto" industries)
  file(STRINGS "${TAXONOMY}/tags.textproto" lines ENCODING UTF-8 REGEX "^[ \t]*(tag|fact)[ \t]*{")
  set(tags "")
  set(facts "")
  foreach(line IN LISTS lines)
    field("${line}" id id)
    field("${line}" name name)
    field("${line}" actionable actionable)
    if(id STREQUAL "" OR name STREQUAL "" OR NOT line MATCHES "}[ \t]*$")
      message(FATAL_ERROR "${TAXONOMY}/tags.textproto: cannot read for the portal: ${line}")
    endif()
    set(a 0)
    if(actionable STREQUAL "true")
      set(a 1)
    endif()
    if(line MATCHES "^[ \t]*tag")
      field("${line}" parent parent)
      string(APPEND tags "[\"${id}\",\"${name}\",\"${parent}\",${a}],")
    else()
      field("${line}" unit unit)
      string(APPEND facts "[\"${id}\",\"${name}\",\"${unit}\",${a}],")
    endif()
  endforeach()
  set(taxonomy "{\"regions\":\"${regions}\",\n\"industries\":\"${industries}\",\n\"tags\":[${tags}],\n\"facts\":[${facts}]}")
  string(FIND "${page}" "/*=TAXONOMY=*/null" at)
  if(at LESS 0)
    message(FATAL_ERROR "${INPUT}: no /*=TAXONOMY=*/null placeholder")
  endif()
  string(REPLACE "/*=TAXONOMY=*/null" "${taxonomy}" page "${page}")
endif()

file(WRITE "${OUTPUT}.page" "${page}")
file(READ "${OUTPUT}.page" hex HEX)
file(REMOVE "${OUTPUT}.page")
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
