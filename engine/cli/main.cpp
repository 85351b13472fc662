// converge — declarative desired-state engine. See README.md and DESIGN (CLI contract).
#include <unistd.h>

#include <cstring>
#include <string>
#include <iostream>

#include <CLI/CLI.hpp>

#include "engine/cli/commands.h"
#include "engine/cli/signals.h"
#include "engine/model/duration.h"
#include "engine/model/value.h"
#include "engine/state/journal_pg.h"

namespace {

bool is_subcommand(const char* a) {
  for (const char* c : {"apply", "plan", "check", "validate", "history", "state", "lab"})
    if (std::strcmp(a, c) == 0) return true;
  return false;
}

/// `converge [OPTIONS] MANIFEST` means `converge [OPTIONS] apply MANIFEST`: the arguments
/// with "apply" before the first positional word (skipping the values of options that take
/// one) when that word is no command.
std::vector<char*> with_implicit_apply(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  static char apply_word[] = "apply";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--state-dir" || a == "--state" || a == "--parallel" || a == "-j" || a == "--lab-speed" || a == "--graph" ||
        a == "--reboot-timeout" || a == "--retries" || a == "--retry-backoff" || a == "--limit" || a == "-l" ||
        a == "--tags" || a == "-t" || a == "--format" || a == "--output" || a == "-o" || a == "--syslog-socket") {
      ++i;
      continue;
    }
    if (a == "--") break;
    if (a.starts_with("-")) continue;
    if (!is_subcommand(argv[i])) args.insert(args.begin() + i, apply_word);
    break;
  }
  return args;
}

/// The words of --limit, --tags and --format as given, before they are checked.
struct RunWords {
  std::vector<std::string> limit, tags;
  std::string format = "text";
};

/// Targeting and monitoring options (apply, plan, check).
void add_run_options(CLI::App& app, converge::GlobalOptions& opts, RunWords& w) {
  app.add_option("--limit,-l", w.limit, "apply/plan/check: only these nodes, groups or clusters (NAME[,NAME...])")
      ->allow_extra_args(false);
  app.add_option("--tags,-t", w.tags, "apply/plan/check: only resources carrying one of these tags (TAG[,TAG...])")
      ->allow_extra_args(false);
  app.add_option("--format", w.format, "text | json | prometheus | junit | nagios (the last three: apply, plan, check)")
      ->check(CLI::IsMember({"text", "json", "prometheus", "junit", "nagios"}));
  app.add_option("--output,-o", opts.output, "write the --format output to this file, atomically (stdout keeps the text report)");
  app.add_flag("--diff", opts.diff, "apply/plan/check: show a unified diff of changed file content");
  app.add_flag("--syslog", opts.syslog, "send the run's summary to syslog");
  app.add_option("--syslog-socket", opts.syslog_socket, "the syslog socket (default /dev/log)");
}

/// Fills the options from the words; false (the reason on stderr) when they do not fit
/// the command.
bool finish_run_options(const std::string& command, const RunWords& w, converge::GlobalOptions& opts) {
  if (opts.json && w.format != "text" && w.format != "json") {
    std::cerr << "converge " << command << ": --json and --format " << w.format << " contradict each other\n";
    return false;
  }
  opts.format = *converge::parse_format(w.format);
  if (opts.json) opts.format = converge::Format::json;
  opts.json = opts.format == converge::Format::json && opts.output.empty();
  for (const auto& word : w.limit)
    for (auto& x : converge::split_list(word)) opts.selection.limit.push_back(std::move(x));
  for (const auto& word : w.tags)
    for (auto& x : converge::split_list(word)) opts.selection.tags.push_back(std::move(x));
  // `--limit "$HOSTS"` with HOSTS empty must not mean "everything".
  if ((!w.limit.empty() && opts.selection.limit.empty()) || (!w.tags.empty() && opts.selection.tags.empty())) {
    std::cerr << "converge " << command << ": --limit and --tags need at least one name\n";
    return false;
  }
  if (!opts.output.empty() && opts.format == converge::Format::text) {
    std::cerr << "converge " << command << ": --output writes a --format (json, prometheus, junit or nagios); "
              << "the text report goes to stdout\n";
    return false;
  }
  const bool run_command = command == "apply" || command == "plan" || command == "check";
  if (!run_command && (!opts.selection.empty() || !opts.output.empty() || opts.syslog || opts.diff ||
                       (opts.format != converge::Format::text && opts.format != converge::Format::json))) {
    std::cerr << "converge " << command << ": --limit, --tags, --format " << w.format
              << ", --output, --syslog and --diff are options of apply, plan and check\n";
    return false;
  }
  return true;
}

/// The words of `lab serve` and `lab summary`.
struct LabWords {
  std::string file, node, shell = "cmd";
};

/// `converge lab serve|summary` (engine/cli/lab_serve.cpp).
void add_lab_commands(CLI::App& app, LabWords& w, std::string& command) {
  auto* lab = app.add_subcommand("lab", "the emulated cluster behind a real sshd");
  lab->require_subcommand(1);
  auto* serve = lab->add_subcommand("serve", "answer this ssh session's command ($SSH_ORIGINAL_COMMAND) as one lab node");
  serve->add_option("--lab", w.file, "the lab file (its state lives in --state-dir/lab)")->required();
  serve->add_option("--node", w.node, "the lab node this session reaches")->required();
  serve->add_option("--shell", w.shell, "the host's shell the line was written for: cmd (default) or powershell")
      ->check(CLI::IsMember({"cmd", "powershell"}));
  serve->callback([&command] { command = "lab serve"; });
  serve->fallthrough();
  auto* summary = lab->add_subcommand("summary", "the lab's outage per group and its violations");
  summary->add_option("--lab", w.file, "the lab file")->required();
  summary->callback([&command] { command = "lab summary"; });
  summary->fallthrough();
  lab->fallthrough();
}

}  // namespace

int main(int argc, char** argv) {
  converge::install_signal_handling();
  std::vector<char*> args = with_implicit_apply(argc, argv);

  converge::GlobalOptions opts;
  bool no_color = false;
  CLI::App app{"converge: observe, plan and apply the desired state declared in a manifest"};
  app.set_version_flag("--version", std::string(CONVERGE_VERSION));
  app.require_subcommand(1);
  app.add_option("--state-dir", opts.state_dir,
                 "state directory (default: $CONVERGE_STATE_DIR, else one per manifest under $XDG_STATE_HOME/converge, "
                 "/var/lib/converge as root)");
  app.add_option("--state", opts.state_url,
                 "a shared journal and estate lock: postgresql://[USER@]HOST[:PORT]/DB (default: $CONVERGE_STATE, else "
                 "the manifest's state: {url:}, else SQLite in the state directory)");
  app.add_flag("--json", opts.json, "print one JSON document (schemas/report.schema.json); same as --format json");
  RunWords run_words;
  add_run_options(app, opts, run_words);
  app.add_option("--parallel,-j", opts.parallel, "worker threads (default: number of cores)")->check(CLI::Range(1, 1024));
  app.add_flag("-v,--verbose", opts.verbose, "list in-sync resources too");
  app.add_flag("-q,--quiet", opts.quiet, "print only errors");
  app.add_flag("--no-color", no_color, "no ANSI colors");
  app.add_option("--lab-speed", opts.lab_speed, "lab: virtual seconds per real second (0 = instant)")->check(CLI::NonNegativeNumber);
  app.add_flag("--no-cache", opts.no_cache, "re-validate the manifest even when its cached model is current");
  bool force_progress = false;
  app.add_flag("--progress", force_progress, "progress lines on stderr even when it is not a terminal");
  app.add_option("--graph", opts.graph_file, "plan/apply: write the plan as a Graphviz DOT file");
  std::string reboot_timeout = "30m", retry_backoff = "1s";
  app.add_option("--reboot-timeout", reboot_timeout, "how long to wait for a restarted node to come back (default 30m)");
  app.add_option("--retries", opts.retries, "extra attempts of a step that timed out or found its node unreachable (default 2)")
      ->check(CLI::Range(0, 20));
  app.add_option("--retry-backoff", retry_backoff, "wait before the first retry, doubled for each next one (default 1s)");

  std::string manifest;
  std::vector<std::string> files;
  long long run_id = 0;
  std::string command;
  for (const char* name : {"apply", "plan", "check"}) {
    const char* help = std::strcmp(name, "apply") == 0 ? "observe, plan, verify, execute, verify"
                       : std::strcmp(name, "plan") == 0 ? "print the verified plan; change nothing"
                                                        : "detect drift; change nothing";
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("manifest", manifest, "manifest file")->required();
    sub->callback([&command, name] { command = name; });
    sub->fallthrough();
  }
  auto* validate = app.add_subcommand("validate", "schema and semantic checks; touch no host");
  validate->add_option("files", files, "manifest files")->required();
  validate->callback([&command] { command = "validate"; });
  validate->fallthrough();
  auto* history = app.add_subcommand("history", "runs recorded in the journal");
  std::string history_what;
  history->add_option("run", history_what, "a run id: list its steps; or a manifest: its runs (state beside it)");
  history->add_option("--manifest,-m", manifest, "find the state directory beside this manifest");
  history->callback([&command] { command = "history"; });
  history->fallthrough();
  auto* state = app.add_subcommand("state", "the journal's store");
  state->require_subcommand(1);
  auto* migrate = state->add_subcommand("migrate", "copy a state directory's SQLite journal into PostgreSQL");
  std::string migrate_from, migrate_to;
  migrate->add_option("--from", migrate_from, "the state directory")->required();
  migrate->add_option("--to", migrate_to, "the postgresql:// URL (default: --state, $CONVERGE_STATE)");
  migrate->callback([&command] { command = "state migrate"; });
  migrate->fallthrough();
  state->fallthrough();
  LabWords lab_words;
  add_lab_commands(app, lab_words, command);
  // Global options may come after the subcommand as well.
  app.fallthrough();

  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 1;
  }
  if (!finish_run_options(command, run_words, opts)) return 1;
  if (!opts.state_url.empty() && !converge::is_database_url(opts.state_url)) {
    std::cerr << "converge: --state takes a postgresql:// URL; a directory is --state-dir\n";
    return 1;
  }
  opts.color = !no_color && !opts.json && ::isatty(1) && std::getenv("NO_COLOR") == nullptr;
  opts.progress = force_progress || (!opts.quiet && !opts.json && ::isatty(2));
  for (auto [text, out, name] : {std::tuple{&reboot_timeout, &opts.reboot_timeout_ms, "--reboot-timeout"},
                                 std::tuple{&retry_backoff, &opts.retry_backoff_ms, "--retry-backoff"}}) {
    auto ms = converge::parse_duration_ms(converge::Value(*text));
    if (!ms) {
      std::cerr << "converge: " << name << ": malformed duration '" << *text << "' (write 90s, 25m, 1h30m)\n";
      return 1;
    }
    *out = *ms;
  }
  if (command == "history" && !history_what.empty()) {
    // `history 12` shows run 12; `history site.yaml` the runs of that manifest's state.
    if (history_what.find_first_not_of("0123456789") == std::string::npos && history_what.size() < 18)
      run_id = std::stoll(history_what);
    else if (manifest.empty())
      manifest = history_what;
  }
  try {
    if (command == "validate") return converge::cmd_validate(files, opts);
    if (command == "history") return converge::cmd_history(manifest, run_id, opts);
    if (command == "lab serve") return converge::cmd_lab_serve(lab_words.file, lab_words.node, lab_words.shell, opts);
    if (command == "lab summary") return converge::cmd_lab_summary(lab_words.file, opts);
    if (command == "state migrate")
      return converge::cmd_state_migrate(migrate_from, migrate_to.empty() ? converge::state_url(opts) : migrate_to);
    return converge::cmd_converge(command, manifest, opts);
  } catch (const std::exception& e) {
    std::cerr << "converge: internal error: " << e.what() << "\n";
    return 1;
  }
}
