// --config.check.online: checks each query against the org before it is
// deployed. With a token from the org, it confirms through the describe
// resource that the query's object and every field it names exist (and that
// GROUP BY fields are groupable), then runs the query once with LIMIT 1 and
// maps the result onto the configured metrics as the poller would.
//
// main calls it once per org, on the main thread, before anything else
// starts; it makes its own HTTP client, token source and CMDB client.
#ifndef CLOUDAWARE_EXPORTER_ONLINE_CHECK_H_
#define CLOUDAWARE_EXPORTER_ONLINE_CHECK_H_

#include <cstddef>
#include <ostream>
#include <vector>

#include "exporter/config/config.h"

namespace cloudaware_exporter {

// Writes one line per query to out, "OK <name>: ..." or "FAIL <name>: ..."
// with each problem and the config path it concerns, then a summary line.
// A token failure is one FAIL line with the token error and its hint; no
// query is checked then. Secrets never appear. Returns true when every
// query is OK. Each object is described once per call.
bool CheckOnline(const CloudawareConfig& cloudaware,
                 const std::vector<QueryConfig>& queries,
                 size_t max_label_value_length, std::ostream& out);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_ONLINE_CHECK_H_
