// engine/cli/formats.h: the Prometheus textfile, JUnit XML and Nagios line of a run, from a
// hand-made report (the scenario operability_monitoring.sh feeds the real ones to their
// consumers' parsers).
#include <catch2/catch.hpp>

#include "engine/cli/formats.h"

using namespace converge;

namespace {

ResourceSpec res(const std::string& type, const std::string& name, const std::string& node) {
  ResourceSpec r;
  r.type = type;
  r.name = name;
  r.node = node;
  return r;
}

/// Four resources: in sync, drifted (a secret property too), could not be observed, left out.
struct Fixture {
  Manifest m;
  std::vector<ResourceResult> results;
  Report r;
  Fixture() {
    m.name = "site";
    m.resources = {res("file", "/etc/a", "web1"), res("file", "/etc/b<&>\"", "web1"), res("service", "nginx", "web2"),
                   res("service", "cron", "web3")};
    m.resources[1].sensitive.insert("content");
    results.resize(4);
    results[1].outcome = Outcome::pending;
    results[1].changes.action = ChangeKind::update;
    results[1].changes.reason = "differs: mode, content";
    results[1].changes.properties = {{"mode", Value("0644"), Value("0600")}, {"content", Value("s3cret"), Value("new")}};
    results[2].outcome = Outcome::failed;
    results[2].error = "cannot observe: ssh: connection refused\x01";
    results[3].outcome = Outcome::excluded;
    r.command = "check";
    r.manifest_path = "/srv/site.yaml";
    r.manifest_name = "site";
    r.status = RunStatus::failed;
    r.manifest = &m;
    r.results = &results;
    r.duration_ms = 1234;
  }
};

}  // namespace

TEST_CASE("prometheus: per node and type, every series present, the status as 0/1 series") {
  Fixture f;
  const std::string t = prometheus_text(f.r, 1'700'000'000);
  CHECK_THAT(t, Catch::Contains("# TYPE converge_resources_drifted gauge\n"));
  CHECK_THAT(t, Catch::Contains("converge_resources{manifest=\"site\",node=\"web1\",type=\"file\"} 2\n"));
  CHECK_THAT(t, Catch::Contains("converge_resources_drifted{manifest=\"site\",node=\"web1\",type=\"file\"} 1\n"));
  CHECK_THAT(t, Catch::Contains("converge_resources_drifted{manifest=\"site\",node=\"web2\",type=\"service\"} 0\n"));
  CHECK_THAT(t, Catch::Contains("converge_resources_failed{manifest=\"site\",node=\"web2\",type=\"service\"} 1\n"));
  CHECK_THAT(t, !Catch::Contains("web3"));  // left out: not this run's to report
  CHECK_THAT(t, Catch::Contains("converge_last_run_timestamp_seconds{manifest=\"site\",command=\"check\"} 1700000000\n"));
  CHECK_THAT(t, Catch::Contains("converge_last_run_duration_seconds{manifest=\"site\",command=\"check\"} 1.234\n"));
  CHECK_THAT(t, Catch::Contains("converge_last_run_status{manifest=\"site\",command=\"check\",status=\"failed\"} 1\n"));
  CHECK_THAT(t, Catch::Contains("converge_last_run_status{manifest=\"site\",command=\"check\",status=\"in_sync\"} 0\n"));
  CHECK_THAT(t, !Catch::Contains("status=\"running\""));
}

TEST_CASE("prometheus: label values are escaped") {
  Fixture f;
  f.m.name = "a\"b\\c\nd";
  f.r.manifest_name = f.m.name;
  CHECK_THAT(prometheus_text(f.r, 0), Catch::Contains("manifest=\"a\\\"b\\\\c\\nd\""));
}

TEST_CASE("junit: a failure per drift, an error per unobservable resource, left out skipped; text escaped") {
  Fixture f;
  const std::string x = junit_xml(f.r, 0);
  CHECK_THAT(x, Catch::StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
  CHECK_THAT(x, Catch::Contains("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""));
  CHECK_THAT(x, Catch::Contains("name=\"file[/etc/b&lt;&amp;&gt;&quot;]@web1\""));
  CHECK_THAT(x, Catch::Contains("<failure type=\"drift\" message=\"differs: mode, content\">mode: &quot;0644&quot; -&gt; &quot;0600&quot;; content: (sensitive) -&gt; (sensitive)</failure>"));
  CHECK_THAT(x, !Catch::Contains("s3cret"));
  CHECK_THAT(x, Catch::Contains("<error type=\"failed\" message=\"cannot observe: ssh: connection refused\xEF\xBF\xBD\"/>"));
  CHECK_THAT(x, Catch::Contains("<skipped message=\"left out by --limit/--tags\"/>"));
  CHECK_THAT(x, Catch::Contains("timestamp=\"1970-01-01T00:00:00\""));
}

TEST_CASE("junit: a run that observed nothing is one test case in error") {
  Fixture f;
  f.r.manifest = nullptr;
  f.r.results = nullptr;
  f.r.status = RunStatus::invalid;
  f.r.diagnostics.push_back(make_error(ErrorCode::invalid_input, "unknown field 'zzz'", {"/srv/site.yaml", 3, 1}));
  const std::string x = junit_xml(f.r, 0);
  CHECK_THAT(x, Catch::Contains("tests=\"1\" failures=\"0\" errors=\"1\""));
  CHECK_THAT(x, Catch::Contains("site.yaml:3:1: unknown field &apos;zzz&apos;"));
}

TEST_CASE("nagios: the plugin's exit codes and one line with perfdata") {
  Fixture f;
  NagiosResult n = nagios_result(f.r);
  CHECK(n.exit_code == 2);
  CHECK_THAT(n.line, Catch::StartsWith("CONVERGE CRITICAL - check site: 1 of 3 resources failed: file[/etc/b<&>\"]@web1, service[nginx]@web2 | "));
  CHECK_THAT(n.line, Catch::EndsWith("| drifted=1;1;;0;3 failed=1;;1;0;3 changed=0;;;0;3 resources=3;;;0; time=1.234s;;;0;"));
  CHECK(n.line.find('\n') == std::string::npos);

  f.results[2].outcome = Outcome::in_sync;
  f.r.status = RunStatus::drift;
  n = nagios_result(f.r);
  CHECK(n.exit_code == 1);
  CHECK_THAT(n.line, Catch::StartsWith("CONVERGE WARNING - check site: 1 of 3 resources drifted: file[/etc/b<&>\"]@web1 |"));

  f.results[1].outcome = Outcome::in_sync;
  f.r.status = RunStatus::in_sync;
  CHECK(nagios_result(f.r).exit_code == 0);
  CHECK_THAT(nagios_result(f.r).line, Catch::StartsWith("CONVERGE OK - check site: 3 resources in sync |"));

  f.r.status = RunStatus::locked;
  CHECK(nagios_result(f.r).exit_code == 3);
  f.r.results = nullptr;
  f.r.status = RunStatus::invalid;
  CHECK(nagios_result(f.r).exit_code == 3);
}

TEST_CASE("the syslog summary is one line naming the command, manifest and status") {
  Fixture f;
  f.r.run_id = 7;
  f.r.diagnostics.push_back(make_error(ErrorCode::io, "two\nlines"));
  const std::string s = summary_line(f.r);
  CHECK_THAT(s, Catch::StartsWith("check /srv/site.yaml: failed (exit 1), run #7, 4 resources: 1 pending, 0 changed, 1 failed, 0 skipped, 1 left out, 1234 ms"));
  CHECK(s.find('\n') == std::string::npos);
}
