// engine/model/error.h — errors as values.
//
// Every fallible function returns `Result<T>` (std::expected<T, Error>). An Error carries a
// code that drives control flow (retryable, terminal, refused, ...), a message, an optional
// source position and an optional cause. GCC 12 has no monadic members on std::expected, so
// CONVERGE_TRY propagates an error with an early return.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace converge {

/// A position in an input file, 1-based. `line == 0` means "the whole file".
struct SourceRange {
  std::string file;
  int line = 0;
  int col = 0;
};

/// What kind of failure this is; the executor and the CLI switch on it, never on text.
enum class ErrorCode {
  invalid_input,   ///< a manifest, lab file or argument is wrong (exit 1)
  io,              ///< the filesystem or a process failed (exit 1)
  unreachable,     ///< a node could not be reached; its resources are unknown (exit 1)
  action_failed,   ///< a provider's action failed (terminal for this run; exit 1)
  retryable,       ///< a transient failure worth another try with backoff
  timeout,         ///< a command or wait ran past its deadline
  refused,         ///< refused for safety: a constraint would break (exit 3)
  locked,          ///< another run holds the state directory (exit 4)
  internal,        ///< a bug in converge or a provider contract violation
};

/// An error value. Copyable; the cause chain is shared.
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  std::optional<SourceRange> where;
  std::shared_ptr<const Error> cause;

  /// "file:line:col: message" when a position is known, else the message; causes follow
  /// after ": ".
  [[nodiscard]] std::string describe() const;
};

/// Builds an Error without a position.
[[nodiscard]] Error make_error(ErrorCode code, std::string message);
/// Builds an Error at a position in a file.
[[nodiscard]] Error make_error(ErrorCode code, std::string message, SourceRange where);
/// Wraps `cause` under a new message with the same code.
[[nodiscard]] Error wrap_error(std::string message, Error cause);

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

/// A list of diagnostics gathered before failing (validation reports all of them at once).
using Diagnostics = std::vector<Error>;

/// A path as the user would write it: relative to the working directory when the file is
/// below it, else unchanged.
[[nodiscard]] std::string display_path(const std::string& path);

/// Sorts diagnostics by file, line, column and message, and drops exact duplicates.
void sort_diagnostics(Diagnostics& diags);

}  // namespace converge

/// `CONVERGE_TRY(auto x, f());` declares x from f()'s value or returns f()'s error.
#define CONVERGE_CONCAT_INNER(a, b) a##b
#define CONVERGE_CONCAT(a, b) CONVERGE_CONCAT_INNER(a, b)
#define CONVERGE_TRY(decl, expr) CONVERGE_TRY_IMPL(decl, expr, CONVERGE_CONCAT(converge_try_, __LINE__))
#define CONVERGE_TRY_IMPL(decl, expr, tmp)                       \
  auto tmp = (expr);                                             \
  if (!tmp) return std::unexpected(std::move(tmp).error());      \
  decl = std::move(*tmp)
/// `CONVERGE_CHECK(f());` returns f()'s error if it failed (for Status-returning calls).
#define CONVERGE_CHECK(expr)                                                   \
  do {                                                                         \
    auto converge_check_ = (expr);                                             \
    if (!converge_check_) return std::unexpected(std::move(converge_check_).error()); \
  } while (0)
