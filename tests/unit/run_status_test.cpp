// engine/model/run_status.h: one list of statuses, each with its word and exit code, and the
// report schema's lists are that list (the schema is checked against the enum, not by hand).
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/run_status.h"

using namespace converge;

namespace {

nlohmann::json report_schema() {
  std::ifstream in(std::string(CONVERGE_SOURCE_DIR) + "/schemas/report.schema.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::vector<std::string> words(bool reported_only) {
  std::vector<std::string> out;
  for (const auto& i : kRunStatuses)
    if (i.reported || !reported_only) out.emplace_back(i.word);
  return out;
}

}  // namespace

TEST_CASE("every status has one word and its exit code", "[run_status]") {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < kRunStatuses.size(); ++i) {
    const auto& info = kRunStatuses[i];
    CHECK(static_cast<std::size_t>(info.status) == i);
    CHECK(seen.insert(info.word).second);
    CHECK(parse_status(info.word) == info.status);
  }
  CHECK_FALSE(parse_status("converging").has_value());
  CHECK(exit_code(RunStatus::converged) == 0);
  CHECK(exit_code(RunStatus::in_sync) == 0);
  CHECK(exit_code(RunStatus::drift) == 2);
  CHECK(exit_code(RunStatus::changes_pending) == 2);
  CHECK(exit_code(RunStatus::awaiting_reboot) == 2);
  CHECK(exit_code(RunStatus::failed) == 1);
  CHECK(exit_code(RunStatus::invalid) == 1);
  CHECK(exit_code(RunStatus::refused) == 3);
  CHECK(exit_code(RunStatus::halted) == 3);
  CHECK(exit_code(RunStatus::locked) == 4);
  CHECK(exit_code(RunStatus::interrupted) == 130);
  CHECK(ended_in_sync(RunStatus::converged));
  CHECK_FALSE(ended_in_sync(RunStatus::halted));
}

TEST_CASE("the report schema lists exactly the statuses of the enum", "[run_status][schemas]") {
  const nlohmann::json s = report_schema();
  const auto& report = s.at("definitions").at("report").at("properties").at("status").at("enum");
  CHECK(report.get<std::vector<std::string>>() == words(true));
  const auto& run = s.at("definitions").at("run").at("properties").at("status").at("enum");
  CHECK(run.get<std::vector<std::string>>() == words(false));
  std::set<int> codes;
  for (const auto& i : kRunStatuses)
    if (i.reported) codes.insert(i.exit_code);
  CHECK(s.at("definitions").at("report").at("properties").at("exit_code").at("enum").get<std::set<int>>() == codes);
}
