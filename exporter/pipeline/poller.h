// Runs every configured query on its own interval on a background thread,
// with at most max_concurrency API calls in flight (a pool of workers), and
// publishes each result to the Collector. Scrapes never wait for it. With
// batching: composite, a worker sends the queries that are due, and those
// due within a tenth of their interval (at most 10 s), up to five in one
// call. Intervals are multiplied by the client's budget-guard stretch.
//
// A successful run replaces the query's series; a failed run sets
// cloudaware_query_success to 0 at once and keeps the last good series until
// stale_after has passed since the last success, then drops them.
//
// With a ResultStore, each success is saved, and the constructor serves the
// stored results at once: a restored query counts as run, its stale_after
// counts from the stored time, and it next runs one interval after it.
//
// PollOnce() runs one cycle on the calling thread's behalf (tests, --once);
// Start()/Stop() run the schedule. Status() may be called from any thread.
#ifndef CLOUDAWARE_EXPORTER_POLLER_H_
#define CLOUDAWARE_EXPORTER_POLLER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "exporter/cmdb/cmdb_client.h"
#include "exporter/config/config.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/pipeline/collector.h"
#include "exporter/pipeline/query_status.h"
#include "exporter/pipeline/samples.h"

namespace cloudaware_exporter {

class ResultStore;

// The Collector key of a query: its name, after "<org>/" when the config
// lists several orgs (org names cannot hold "/").
std::string CollectorKey(const std::string& org, const std::string& query);

class Poller {
 public:
  using WallTime = std::chrono::system_clock::time_point;

  using QueryStatus = cloudaware_exporter::QueryStatus;

  // Polls config.orgs[org]; its self metrics go to `metrics`, which belongs
  // to that org. store may be null (no --storage.path); else it must outlive
  // the poller.
  Poller(const Config& config, CmdbClient& client, Collector& collector,
         SelfMetrics& metrics, ResultStore* store = nullptr, size_t org = 0);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Runs every query once, now; returns false if any failed.
  bool PollOnce();
  void Start();
  // Returns once running queries have finished; abort their requests first
  // (HttpClient::Stop) to make that prompt.
  void Stop();
  // True once every query has run at least once.
  bool ready() const { return ready_.load(); }
  std::vector<QueryStatus> Status() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct State {
    const QueryConfig* config = nullptr;
    Clock::time_point next_run;
    bool running = false;
    bool ran = false;
    bool success = false;
    std::optional<Clock::time_point> last_success;
    std::optional<WallTime> last_run_wall, last_success_wall;
    double duration_seconds = 0;
    size_t rows = 0;
    size_t series = 0;
    std::string last_error;
    std::string last_logged;  // "ok" or an error code: log once per change
    bool dropping = false;    // the last success dropped series
    std::string save_error;   // of the last save: log once per change
    // keep_seen_for's memory. Only the run of this query touches it, outside
    // mu_: a query is never run twice at once.
    SeenLabels seen;
  };

  // Runs the queries (one, or a composite batch) and records the outcomes;
  // never throws. Returns false if any failed.
  bool RunBatch(const std::vector<size_t>& batch);
  // A result's way to the collector, for a fresh run and a restored one
  // alike: its series, zero-filled and capped; sets the number dropped. The
  // query must not be running elsewhere (s.seen is its own).
  size_t Publish(State& s, std::vector<GaugeFamily> families, size_t& dropped);
  // Records a run's outcome; on success its series come from series_of,
  // which took the records (outcome.result.records holds them only for the
  // store).
  bool Record(size_t i, QueryOutcome outcome, SeriesBuilder& series_of,
              Clock::time_point start, WallTime wall_start);
  void DropIfStaleLocked(State& s, Clock::time_point now);
  // With mu_ held, after a run was recorded in s; code is empty on success.
  void LogChangeLocked(State& s, const std::string& code,
                       const std::string& message, size_t rows, size_t series,
                       size_t dropped);
  // Publishes the stored result of s's query, if there is one younger than
  // stale_after; returns whether it did.
  bool Restore(State& s);
  void SaveResult(size_t i, const QueryResult& result, WallTime time);
  void SchedulerLoop();
  void WorkerLoop();

  const Config config_;  // holds only this poller's org
  const OrgConfig& org_;
  CmdbClient& client_;
  Collector& collector_;
  SelfMetrics& metrics_;
  ResultStore* const store_;

  mutable std::mutex mu_;
  std::condition_variable scheduler_cv_;
  std::condition_variable worker_cv_;
  std::vector<State> states_;
  std::deque<size_t> due_;
  bool stopping_ = false;
  std::atomic<bool> ready_{false};
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_POLLER_H_
