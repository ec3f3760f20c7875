// The web UI's files, embedded into the binary at build time from ui/ (see
// cmake/EmbedUi.cmake), so the node serves `/` without files on disk.
// Immutable, shared by every HTTP worker thread.
#pragma once

#include <string_view>
#include <vector>

namespace troupe {

struct ui_asset {
  std::string_view path; ///< URL path, e.g. "/app.js"
  std::string_view body;
};

/// Every embedded file of ui/, sorted by path.
const std::vector<ui_asset>& embedded_ui();

/// The Content-Type for a file name, by its extension.
std::string_view ui_content_type(std::string_view path);

} // namespace troupe
