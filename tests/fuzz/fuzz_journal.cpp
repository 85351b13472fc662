// libFuzzer target: the journal's reader on arbitrary bytes as journal.db: open (format and
// integrity checks), then every read `history` and a run make. A damaged file must be an
// error, never a crash.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "engine/state/journal.h"

namespace {

const std::string& work_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/converge-fuzz-journal-XXXXXX";
    return std::string(::mkdtemp(tmpl) ? tmpl : "/tmp");
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& dir = work_dir();
  for (const char* f : {"/journal.db-wal", "/journal.db-shm"}) ::unlink((dir + f).c_str());
  {
    std::ofstream out(dir + "/journal.db", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto j = converge::Journal::open(dir);
  if (!j) return 0;
  if (auto runs = (*j)->runs(50))
    for (const auto& r : *runs) {
      (void)(*j)->steps(r.id);
      (void)(*j)->drift(r.id);
    }
  (void)(*j)->outstanding_priors();
  (void)(*j)->meta("awaiting_reboot");
  return 0;
}
