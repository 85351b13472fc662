// engine/state/pq_api.h — libpq, loaded the first time a run needs PostgreSQL (dlopen of
// libpq.so.5). A run that never uses the shared journal never maps libpq and the libraries
// it pulls in (Kerberos, LDAP, TLS: about 25), which on a small VM is most of a process's
// start (measured: 17 ms -> 4 ms for an empty program). journal_pg.cpp calls the functions
// through api(); its types and constants come from <libpq-fe.h> as usual.
#pragma once

#include <libpq-fe.h>

#include "engine/model/error.h"

namespace converge::pq {

// Every libpq function converge calls.
#define CONVERGE_PQ_FUNCTIONS(X)                                                                              \
  X(PQclear) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse) X(PQerrorMessage) X(PQexec)              \
  X(PQexecParams) X(PQfinish) X(PQfreemem) X(PQgetisnull) X(PQgetvalue) X(PQntuples) X(PQresultErrorMessage)   \
  X(PQresultStatus) X(PQsetNoticeProcessor) X(PQstatus) X(PQtransactionStatus)

struct Api {
#define CONVERGE_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  CONVERGE_PQ_FUNCTIONS(CONVERGE_PQ_MEMBER)
#undef CONVERGE_PQ_MEMBER
};

/// Loads libpq once (thread-safe); an error naming the package when it is not installed.
[[nodiscard]] Result<const Api*> load();

/// REQUIRES: load() succeeded.
[[nodiscard]] const Api& api();

}  // namespace converge::pq
