#include "exporter/pipeline/poller.h"

#include <malloc.h>

#include <algorithm>
#include <memory>
#include <random>

#include "exporter/base/log.h"
#include "exporter/pipeline/result_store.h"
#include "exporter/pipeline/samples.h"

namespace cloudaware_exporter {
namespace {

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A tenth of the interval, at most 10 s: how far the first runs are spread,
// and how early a query may join a composite batch.
std::chrono::milliseconds EarlyStart(const QueryConfig& q) {
  return std::min<std::chrono::milliseconds>(q.interval / 10,
                                             std::chrono::seconds(10));
}

// The poller's own copy of the config: just its org, whose metrics all
// carry the org label when the config lists several orgs.
Config OneOrg(const Config& config, size_t org) {
  Config copy = config;
  OrgConfig mine = std::move(copy.orgs.at(org));
  if (!mine.name.empty()) {
    for (QueryConfig& q : mine.queries) {
      for (MetricConfig& m : q.metrics) {
        m.const_labels.emplace_back("org", mine.name);
        std::sort(m.const_labels.begin(), m.const_labels.end());
      }
    }
  }
  copy.orgs = {std::move(mine)};
  return copy;
}

// Where one run's records go: folded into the query's series, and kept as
// well only for the result store, which saves them.
class RunSink : public RecordSink {
 public:
  RunSink(const QueryConfig& query, size_t max_label_value_length, bool keep)
      : series(query, max_label_value_length), keep_(keep) {}
  void Add(nlohmann::json&& record) override {
    series.Fold(record);
    if (keep_) kept.push_back(std::move(record));
  }

  SeriesBuilder series;
  std::vector<nlohmann::json> kept;

 private:
  const bool keep_;
};

}  // namespace

std::string CollectorKey(const std::string& org, const std::string& query) {
  return org.empty() ? query : org + "/" + query;
}

Poller::Poller(const Config& config, CmdbClient& client, Collector& collector,
               SelfMetrics& metrics, ResultStore* store, size_t org)
    : config_(OneOrg(config, org)),
      org_(config_.orgs[0]),
      client_(client),
      collector_(collector),
      metrics_(metrics),
      store_(store) {
  // Spread the first runs so that many queries do not hit the API at once:
  // up to a tenth of each interval, at most 10 s, so readiness stays quick.
  std::mt19937_64 rng(std::random_device{}());
  auto now = Clock::now();
  for (const QueryConfig& q : org_.queries) {
    State s;
    s.config = &q;
    metrics_.SetQueryInterval(
        q.name, std::chrono::duration<double>(q.interval).count());
    metrics_.CountDroppedSeries(q.name, 0);
    auto max_jitter = EarlyStart(q);
    s.next_run =
        now + std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(
                  0, std::max<int64_t>(0, max_jitter.count()))(rng));
    states_.push_back(std::move(s));
  }
  if (store_ != nullptr) {
    size_t restored = 0;
    for (State& s : states_) restored += Restore(s);
    LogInfo("restored stored results",
            {{"restored", std::to_string(restored)},
             {"queries", std::to_string(states_.size())},
             {"path", store_->dir()}});
    ready_ = restored == states_.size();
  }
}

bool Poller::Restore(State& s) {
  const QueryConfig& q = *s.config;
  std::optional<ResultStore::Stored> stored =
      store_->Load(CollectorKey(org_.name, q.name), q.soql);
  if (!stored) return false;
  const auto age = std::chrono::system_clock::now() - stored->time;
  // The exporter would have dropped these series by now; serving them after
  // a restart would hide that the data is old.
  if (age >= q.stale_after) {
    LogInfo("stored result is older than stale_after, not restored",
            {{"query", q.name}});
    return false;
  }
  size_t series = 0;
  try {
    size_t dropped = 0;
    series = Publish(
        s, ToFamilies(q, stored->result, config_.max_label_value_length),
        dropped);
  } catch (const std::exception& e) {
    // The query's metrics changed in a way its stored columns do not fit.
    LogWarn("cannot restore the stored result",
            {{"query", q.name}, {"err", e.what()}});
    return false;
  }
  metrics_.SetQueryDuration(q.name, 0);
  metrics_.SetQuerySuccess(q.name, true);
  metrics_.SetQueryLastSuccess(q.name, UnixSeconds(stored->time));
  metrics_.SetQuerySeries(q.name, static_cast<double>(series));

  const auto now = Clock::now();
  const auto stored_at = now - std::chrono::duration_cast<Clock::duration>(age);
  s.ran = true;
  s.success = true;
  s.last_success = stored_at;
  s.last_run_wall = stored->time;
  s.last_success_wall = stored->time;
  s.rows = stored->result.records.size();
  s.series = series;
  s.last_logged = "ok";
  // Not yet due: keep the cadence of the run that stored it. Overdue: the
  // spread first run the constructor planned.
  if (stored_at + q.interval > now) s.next_run = stored_at + q.interval;
  return true;
}

void Poller::SaveResult(size_t i, const QueryResult& result, WallTime time) {
  const QueryConfig& q = *states_[i].config;
  std::string problem;
  try {
    problem =
        store_->Save(CollectorKey(org_.name, q.name), q.soql, result, time)
            .value_or("");
  } catch (const std::exception& e) {
    problem = e.what();  // out of memory for a huge result: nothing escapes
  }
  std::lock_guard<std::mutex> lock(mu_);
  State& s = states_[i];
  if (problem == s.save_error) return;
  if (problem.empty()) {
    LogInfo("saving the result works again", {{"query", q.name}});
  } else {
    // The query itself succeeded; only a restart would miss this result.
    LogWarn("cannot save the result",
            {{"query", q.name}, {"dir", store_->dir()}, {"err", problem}});
  }
  s.save_error = problem;
}

size_t Poller::Publish(State& s, std::vector<GaugeFamily> families,
                       size_t& dropped) {
  const QueryConfig& q = *s.config;
  dropped = ZeroFill(families, q, s.seen, Clock::now(),
                     config_.max_label_value_length);
  dropped += CapSeries(families, q.max_series);
  return collector_.Publish(CollectorKey(org_.name, q.name),
                            std::move(families));
}

Poller::~Poller() { Stop(); }

bool Poller::PollOnce() {
  // The batches of a cycle: every query alone, or with composite batching
  // up to five in config order.
  const size_t per_batch = org_.cloudaware.batching == Batching::kComposite
                               ? kCompositeMaxQueries
                               : 1;
  std::vector<std::vector<size_t>> batches;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (i % per_batch == 0) batches.emplace_back();
    batches.back().push_back(i);
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> all_ok{true};
  auto work = [&] {
    for (size_t b; (b = next++) < batches.size();) {
      if (!RunBatch(batches[b])) all_ok = false;
    }
  };
  size_t n = std::min<size_t>(
      static_cast<size_t>(org_.cloudaware.max_concurrency), batches.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  ready_ = true;
  return all_ok;
}

bool Poller::RunBatch(const std::vector<size_t>& batch) {
  const auto start = Clock::now();
  const auto wall_start = std::chrono::system_clock::now();
  std::vector<std::string> soqls;
  std::vector<std::unique_ptr<RunSink>> runs;
  std::vector<RecordSink*> sinks;
  for (size_t i : batch) {
    const QueryConfig& q = *states_[i].config;
    soqls.push_back(q.soql);
    runs.push_back(std::make_unique<RunSink>(q, config_.max_label_value_length,
                                             store_ != nullptr));
    sinks.push_back(runs.back().get());
  }
  std::vector<QueryOutcome> outcomes;
  try {
    outcomes = client_.QueryBatch(soqls, sinks);
  } catch (const std::exception& e) {
    // Nothing may escape a worker: an unexpected failure is reported like any
    // other.
    outcomes.assign(batch.size(), QueryOutcome{});
    for (auto& o : outcomes) o.error = CmdbError("internal", e.what());
  }
  bool all_ok = true;
  for (size_t k = 0; k < batch.size(); ++k) {
    QueryOutcome& outcome = outcomes[k];
    outcome.result.records = std::move(runs[k]->kept);
    if (!Record(batch[k], std::move(outcome), runs[k]->series, start,
                wall_start)) {
      all_ok = false;
    }
    runs[k].reset();
  }
  outcomes.clear();
  // A large result is parsed into many small objects, freed by now; glibc
  // keeps their pages, so a 100,000-row query would leave the exporter
  // holding several times the exposition until the next run. Handing them
  // back costs about a millisecond per run.
  malloc_trim(0);
  return all_ok;
}

bool Poller::Record(size_t i, QueryOutcome outcome, SeriesBuilder& series_of,
                    Clock::time_point start, WallTime wall_start) {
  const QueryConfig& q = *states_[i].config;
  std::string code, message;
  size_t rows = 0, series = 0, dropped = 0;
  if (outcome.error) {
    code = outcome.error->code();
    message = outcome.error->what();
  } else {
    try {
      rows = series_of.rows();
      series = Publish(states_[i], series_of.Finish(outcome.result.total_size),
                       dropped);
    } catch (const CmdbError& e) {
      code = e.code();
      message = e.what();
    } catch (const std::exception& e) {
      code = "internal";
      message = e.what();
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  bool ok = code.empty();
  // A run cut short by a stop or a reload says nothing about the API: leave
  // the query's record as it was.
  if (!ok && client_.stopping()) return false;
  const WallTime wall_end = std::chrono::system_clock::now();

  metrics_.SetQueryDuration(q.name, seconds);
  metrics_.SetQuerySuccess(q.name, ok);
  if (ok) {
    metrics_.SetQueryLastSuccess(q.name, UnixSeconds(wall_end));
    metrics_.SetQuerySeries(q.name, static_cast<double>(series));
    if (dropped > 0)
      metrics_.CountDroppedSeries(q.name, static_cast<double>(dropped));
  } else {
    metrics_.CountQueryError(q.name, code);
  }
  if (ok && store_ != nullptr) SaveResult(i, outcome.result, wall_end);

  std::lock_guard<std::mutex> lock(mu_);
  State& s = states_[i];
  s.ran = true;
  s.success = ok;
  s.duration_seconds = seconds;
  s.last_run_wall = wall_start;
  if (ok) {
    s.last_success = Clock::now();
    s.last_success_wall = wall_end;
    s.rows = rows;
    s.series = series;
    s.last_error.clear();
  } else {
    s.last_error = code + ": " + message;
  }
  LogChangeLocked(s, code, message, rows, series, dropped);
  if (!ok) DropIfStaleLocked(s, Clock::now());
  return ok;
}

// Logs a run only when it changes what the log last said of the query, so
// that a query failing every minute for a day logs once, not 1,440 times.
void Poller::LogChangeLocked(State& s, const std::string& code,
                             const std::string& message, size_t rows,
                             size_t series, size_t dropped) {
  const QueryConfig& q = *s.config;
  if (code.empty()) {
    if ((dropped > 0) != s.dropping) {
      if (dropped > 0) {
        LogWarn("dropped series over max_series",
                {{"query", q.name},
                 {"max_series", std::to_string(q.max_series)},
                 {"dropped", std::to_string(dropped)},
                 {"hint",
                  "group by fewer or coarser fields, or raise max_series"}});
      } else {
        LogInfo("series back within max_series", {{"query", q.name}});
      }
      s.dropping = dropped > 0;
    }
    if (s.last_logged != "ok") {
      if (s.last_logged.empty()) {
        LogDebug("query succeeded",
                 {{"query", q.name}, {"rows", std::to_string(rows)}});
      } else {
        LogInfo("query recovered",
                {{"query", q.name}, {"series", std::to_string(series)}});
      }
      s.last_logged = "ok";
    }
  } else if (s.last_logged != code && code == "truncated") {
    LogWarn("query failed",
            {{"query", q.name},
             {"error", code},
             {"err", message},
             {"hint",
              "the API returns at most 2,000 groups: group by fewer or "
              "coarser fields, split the query with WHERE, or add a HAVING"}});
    s.last_logged = code;
  } else if (s.last_logged != code) {
    // The token source already logged why there is no token, once.
    Log(code == "auth" ? LogLevel::kDebug : LogLevel::kWarn, "query failed",
        {{"query", q.name}, {"error", code}, {"err", message}});
    s.last_logged = code;
  }
}

void Poller::DropIfStaleLocked(State& s, Clock::time_point now) {
  if (s.success || !s.last_success || s.series == 0) return;
  if (now - *s.last_success < s.config->stale_after) return;
  collector_.Drop(CollectorKey(org_.name, s.config->name));
  metrics_.SetQuerySeries(s.config->name, 0);
  s.series = 0;
  LogWarn("dropped stale series",
          {{"query", s.config->name},
           {"stale_after",
            std::to_string(s.config->stale_after.count() / 1000) + "s"}});
}

void Poller::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (scheduler_.joinable()) return;
  stopping_ = false;
  size_t n = static_cast<size_t>(org_.cloudaware.max_concurrency);
  for (size_t i = 0; i < n; ++i)
    workers_.emplace_back([this] { WorkerLoop(); });
  scheduler_ = std::thread([this] { SchedulerLoop(); });
}

void Poller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  scheduler_cv_.notify_all();
  worker_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void Poller::SchedulerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    auto wake = now + std::chrono::hours(1);
    for (size_t i = 0; i < states_.size(); ++i) {
      State& s = states_[i];
      DropIfStaleLocked(s, now);
      if (!s.success && s.last_success && s.series > 0) {
        wake = std::min(wake, *s.last_success + s.config->stale_after);
      }
      if (s.running) continue;
      if (s.next_run <= now) {
        s.running = true;
        due_.push_back(i);
        worker_cv_.notify_one();
      } else {
        wake = std::min(wake, s.next_run);
      }
    }
    scheduler_cv_.wait_until(lock, wake);
  }
}

void Poller::WorkerLoop() {
  const bool composite = org_.cloudaware.batching == Batching::kComposite;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    worker_cv_.wait(lock, [this] { return stopping_ || !due_.empty(); });
    if (stopping_) return;
    std::vector<size_t> batch{due_.front()};
    due_.pop_front();
    if (composite) {
      while (batch.size() < kCompositeMaxQueries && !due_.empty()) {
        batch.push_back(due_.front());
        due_.pop_front();
      }
      // Queries due soon ride along rather than costing a call of their own
      // moments later; the first runs' spread is no wider than this.
      const auto now = Clock::now();
      for (size_t i = 0;
           i < states_.size() && batch.size() < kCompositeMaxQueries; ++i) {
        State& s = states_[i];
        if (s.running || s.next_run > now + EarlyStart(*s.config)) continue;
        s.running = true;
        batch.push_back(i);
      }
    }
    lock.unlock();
    RunBatch(batch);
    const double stretch = client_.IntervalStretch();
    lock.lock();
    for (size_t i : batch) {
      State& s = states_[i];
      s.running = false;
      // Keep the cadence: the next run is one interval after the planned
      // one, or now if a slow run overshot it. The budget guard stretches
      // the interval.
      const auto interval = std::chrono::duration_cast<Clock::duration>(
          s.config->interval * stretch);
      s.next_run = std::max(s.next_run + interval, Clock::now());
    }
    if (!ready_ && std::all_of(states_.begin(), states_.end(),
                               [](const State& st) { return st.ran; })) {
      ready_ = true;
      LogInfo("first poll cycle finished",
              {{"queries", std::to_string(states_.size())}});
    }
    scheduler_cv_.notify_one();
  }
}

std::vector<Poller::QueryStatus> Poller::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  auto wall_now = std::chrono::system_clock::now();
  std::vector<QueryStatus> out;
  for (const State& s : states_) {
    QueryStatus q;
    q.name = s.config->name;
    q.interval = s.config->interval;
    q.last_run = s.last_run_wall;
    q.last_success = s.last_success_wall;
    q.next_run =
        wall_now +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            s.next_run - now);
    q.duration_seconds = s.duration_seconds;
    q.rows = s.rows;
    q.series = s.series;
    q.success = s.success;
    q.running = s.running;
    q.last_error = s.last_error;
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace cloudaware_exporter
