# Generates a C++ source that embeds the web UI (ui/**) into the node, so `/`
# works whatever the working directory. Files are embedded as bytes, so any
# content (quotes, binary images) is safe. Markdown files are not served.
# Invoked at build time: cmake -DSRC_DIR=... -DOUT=... -P EmbedUi.cmake
file(GLOB_RECURSE files RELATIVE "${SRC_DIR}" "${SRC_DIR}/*")
list(FILTER files EXCLUDE REGEX "(^|/)\\.|\\.md$|~$")
list(SORT files)
set(arrays "")
set(entries "")
set(n 0)
foreach(rel IN LISTS files)
  file(READ "${SRC_DIR}/${rel}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # A trailing 0 keeps empty files legal C++; it is not part of the body.
  string(APPEND arrays "const unsigned char f${n}[] = {${bytes}0};\n")
  string(APPEND entries "    {\"/${rel}\", {reinterpret_cast<const char*>(f${n}), sizeof(f${n}) - 1}},\n")
  math(EXPR n "${n} + 1")
endforeach()
set(body "// Generated from ui/**; do not edit.\n#include \"adapters/http/ui_assets.hpp\"\n\nnamespace troupe {\n\nnamespace {\n\n${arrays}\n} // namespace\n\nconst std::vector<ui_asset>& embedded_ui() {\n  static const std::vector<ui_asset> all{\n${entries}  };\n  return all;\n}\n\n} // namespace troupe\n")
file(WRITE "${OUT}.tmp" "${body}")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
