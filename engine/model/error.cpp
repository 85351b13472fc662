#include "engine/model/error.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

namespace converge {

std::string Error::describe() const {
  std::string out;
  if (where && !where->file.empty()) {
    out = where->file;
    if (where->line > 0) {
      out += ":" + std::to_string(where->line) + ":" + std::to_string(where->col > 0 ? where->col : 1);
    }
    out += ": ";
  }
  out += message;
  if (cause) out += ": " + cause->describe();
  return out;
}

Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), std::nullopt, nullptr};
}

Error make_error(ErrorCode code, std::string message, SourceRange where) {
  return Error{code, std::move(message), std::move(where), nullptr};
}

Error wrap_error(std::string message, Error cause) {
  ErrorCode code = cause.code;
  return Error{code, std::move(message), std::nullopt, std::make_shared<const Error>(std::move(cause))};
}

std::string display_path(const std::string& path) {
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string() + "/";
  return !ec && path.starts_with(cwd) ? path.substr(cwd.size()) : path;
}

void sort_diagnostics(Diagnostics& diags) {
  auto key = [](const Error& e) {
    return std::make_tuple(e.where ? e.where->file : std::string(), e.where ? e.where->line : 0,
                           e.where ? e.where->col : 0, e.message);
  };
  std::stable_sort(diags.begin(), diags.end(), [&](const Error& a, const Error& b) { return key(a) < key(b); });
  diags.erase(std::unique(diags.begin(), diags.end(), [&](const Error& a, const Error& b) { return key(a) == key(b); }),
              diags.end());
}

}  // namespace converge
