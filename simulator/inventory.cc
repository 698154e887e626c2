// The Cloudaware schema, the synthetic inventory generator, the JSON form of
// an inventory and the describe bodies.
#include "simulator/inventory.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cmdb_simulator {
namespace {

constexpr double kDayMs = 86400.0 * 1000;
// Beyond 2^53 a double no longer holds every whole number.
constexpr double kMaxExactInt = 9007199254740992.0;

constexpr std::string_view kAwsAccount = "CA10__CaAwsAccount__c";
constexpr std::string_view kEc2 = "CA10__CaAwsInstance__c";
constexpr std::string_view kEbs = "CA10__CaAwsVolume__c";
constexpr std::string_view kS3 = "CA10__CaAwsBucket__c";
constexpr std::string_view kRds = "CA10__CaAwsDbInstance__c";
constexpr std::string_view kEks = "CA10A1__CaAwsEksCluster__c";
constexpr std::string_view kAzureSubscription = "CA10__CaAzureAccount__c";
constexpr std::string_view kAzureVm = "CA10__CaAzureVirtualMachine__c";
constexpr std::string_view kAks = "CA10Z1__CaAzureAksCluster__c";
constexpr std::string_view kGoogleProject = "CA10__CaGoogleProject__c";
constexpr std::string_view kGce = "CA10__CaGoogleGceInstance__c";
constexpr std::string_view kGke = "CA10G1__CaGoogleGkeCluster__c";
// Customer tags, as an org that tags its machines with owner and application
// has them.
constexpr std::string_view kOwnerTag = "caTag_owner__c";
constexpr std::string_view kApplicationTag = "caTag_application__c";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

FieldDef Field(std::string_view name, std::string_view label, FieldType type,
               std::string_view reference_to = {},
               std::string_view relationship_name = {}) {
  FieldDef f;
  f.name = name;
  f.label = label;
  f.type = type;
  f.groupable = IsGroupableType(type);
  f.reference_to = reference_to;
  f.relationship_name = relationship_name;
  return f;
}

// Adds the standard fields every object has.
ObjectDef Object(std::string_view name, std::string_view label,
                 std::string_view key_prefix, std::vector<FieldDef> fields) {
  ObjectDef def;
  def.name = name;
  def.label = label;
  def.label_plural = std::string(label) + "s";
  def.key_prefix = key_prefix;
  def.fields = {
      Field("Id", "Record ID", FieldType::kId),
      Field("Name", "Name", FieldType::kString),
      Field("CreatedDate", "Created Date", FieldType::kDateTime),
      Field("LastModifiedDate", "Last Modified Date", FieldType::kDateTime)};
  for (FieldDef& f : fields) def.fields.push_back(std::move(f));
  return def;
}

// ------------------------------------------------------------- generator

// splitmix64 with our own range helpers: std:: distributions give different
// sequences on different standard libraries, and the same seed must give the
// same inventory everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // [0, n) by multiply-shift; the bias is negligible for the n used here.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }

 private:
  uint64_t state_;
};

// A value and its relative weight; an empty value stands for null.
struct Weighted {
  std::string_view value;
  uint64_t weight;
};

size_t PickIndex(Rng& rng, std::span<const Weighted> items) {
  uint64_t total = 0;
  for (const Weighted& w : items) total += w.weight;
  uint64_t x = rng.Below(total);
  for (size_t i = 0; i < items.size(); ++i) {
    if (x < items[i].weight) return i;
    x -= items[i].weight;
  }
  return items.size() - 1;
}

std::string_view Pick(Rng& rng, std::span<const Weighted> items) {
  return items[PickIndex(rng, items)].value;
}

Value TextOrNull(std::string_view s) {
  return s.empty() ? Value::Null() : Value::Text(s);
}

constexpr Weighted kAwsRegions[] = {
    {"us-east-1", 35},    {"us-west-2", 20},     {"eu-west-1", 15},
    {"eu-central-1", 10}, {"ap-southeast-1", 6}, {"ap-northeast-1", 5},
    {"us-east-2", 5},     {"ca-central-1", 2},   {"sa-east-1", 2}};
// Live instances; "terminated" ones linger for a while before they are gone.
constexpr Weighted kEc2States[] = {
    {"running", 680}, {"stopped", 220},      {"pending", 20},
    {"stopping", 10}, {"shutting-down", 10}, {"terminated", 55},
    {"", 5}};
constexpr Weighted kEc2Types[] = {
    {"t3.micro", 16}, {"t3.medium", 12}, {"m5.large", 12},  {"t3.small", 9},
    {"m5.xlarge", 8}, {"t2.micro", 7},   {"c5.large", 6},   {"r5.large", 5},
    {"t3.large", 5},  {"m5.2xlarge", 4}, {"c5.xlarge", 4},  {"m6i.large", 4},
    {"r5.xlarge", 3}, {"c6i.large", 3},  {"g4dn.xlarge", 2}};
constexpr Weighted kVolumeTypes[] = {{"gp3", 45}, {"gp2", 35}, {"io1", 5},
                                     {"io2", 3},  {"st1", 7},  {"sc1", 5}};
// Live volumes; deleted ones read "deleted".
constexpr Weighted kVolumeStatuses[] = {{"in-use", 760},  {"available", 200},
                                        {"creating", 15}, {"deleting", 10},
                                        {"error", 5},     {"", 10}};
constexpr uint64_t kProvisionedIops[] = {3000, 4000, 6000, 10000, 16000};
constexpr Weighted kVersioning[] = {
    {"enabled", 45}, {"suspended", 5}, {"off", 50}};
constexpr Weighted kRdsEngines[] = {
    {"postgres", 40},     {"mysql", 25},  {"aurora-postgresql", 12},
    {"aurora-mysql", 10}, {"mariadb", 5}, {"sqlserver-se", 4},
    {"oracle-ee", 4}};
constexpr Weighted kRdsClasses[] = {{"db.t3.micro", 15},  {"db.t3.medium", 20},
                                    {"db.m5.large", 20},  {"db.r5.large", 15},
                                    {"db.m6g.large", 10}, {"db.r6g.xlarge", 10},
                                    {"db.t4g.small", 10}};
constexpr Weighted kRdsStatuses[] = {{"available", 90},
                                     {"stopped", 5},
                                     {"backing-up", 2},
                                     {"modifying", 2},
                                     {"storage-full", 1}};
constexpr Weighted kEksVersions[] = {{"1.27", 5},  {"1.28", 15}, {"1.29", 25},
                                     {"1.30", 30}, {"1.31", 20}, {"1.32", 5}};
constexpr Weighted kEksStatuses[] = {
    {"ACTIVE", 95}, {"UPDATING", 3}, {"CREATING", 1}, {"FAILED", 1}};
constexpr Weighted kAzureLocations[] = {
    {"eastus", 30},  {"westeurope", 20}, {"eastus2", 12}, {"northeurope", 10},
    {"westus2", 10}, {"centralus", 8},   {"uksouth", 6},  {"southeastasia", 4}};
constexpr Weighted kVmSizes[] = {
    {"Standard_D2s_v3", 20}, {"Standard_B2s", 15},   {"Standard_D4s_v3", 15},
    {"Standard_D2s_v5", 12}, {"Standard_B1s", 10},   {"Standard_E4s_v3", 8},
    {"Standard_F4s_v2", 8},  {"Standard_D8s_v3", 7}, {"Standard_DS2_v2", 5}};
constexpr Weighted kPowerStates[] = {{"VM running", 740},
                                     {"VM deallocated", 200},
                                     {"VM stopped", 40},
                                     {"VM starting", 10},
                                     {"", 10}};
constexpr Weighted kAksVersions[] = {{"1.27.7", 5},
                                     {"1.28.9", 10},
                                     {"1.29.7", 25},
                                     {"1.30.4", 35},
                                     {"1.31.2", 25}};
constexpr Weighted kGceRegions[] = {{"us-central1", 40},  {"us-east1", 15},
                                    {"europe-west1", 12}, {"us-west1", 10},
                                    {"europe-west4", 10}, {"asia-east1", 8},
                                    {"us-east4", 5}};
constexpr Weighted kGceStatuses[] = {
    {"RUNNING", 80}, {"TERMINATED", 15}, {"SUSPENDED", 3}, {"STOPPING", 2}};
constexpr Weighted kMachineTypes[] = {
    {"e2-medium", 20},     {"e2-standard-2", 20}, {"n2-standard-2", 13},
    {"n2-standard-4", 12}, {"e2-small", 10},      {"n1-standard-1", 10},
    {"e2-micro", 8},       {"c2-standard-8", 4},  {"n2-highmem-4", 3}};
constexpr Weighted kRoles[] = {{"web", 20},      {"api", 18},    {"worker", 14},
                               {"k8s-node", 12}, {"db", 6},      {"cache", 6},
                               {"batch", 5},     {"etl", 4},     {"proxy", 4},
                               {"ci-runner", 4}, {"search", 3},  {"kafka", 2},
                               {"bastion", 1},   {"ml-train", 1}};
constexpr Weighted kEnvs[] = {
    {"prod", 45}, {"dev", 25}, {"staging", 20}, {"qa", 10}};
constexpr std::string_view kTeams[] = {
    "payments",  "checkout", "search",   "identity", "data",
    "ml",        "platform", "security", "logging",  "marketing",
    "analytics", "mobile",   "billing",  "shared",   "sandbox"};
constexpr std::string_view kEnvNames[] = {"prod", "staging", "dev", "qa"};
constexpr std::string_view kBucketPurposes[] = {
    "logs",      "assets",  "backups", "artifacts",
    "data-lake", "exports", "tfstate"};
constexpr std::string_view kRdsPurposes[] = {"orders",  "users",  "catalog",
                                             "billing", "events", "reporting"};
constexpr std::string_view kPublicIpFirstOctets[] = {"3",  "13", "18", "34",
                                                     "35", "44", "52", "54"};

void AppendHex(Rng& rng, std::string& out, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = 0;
  for (int i = 0; i < digits; ++i) {
    if (i % 16 == 0) bits = rng.Next();
    out += kHex[bits & 15];
    bits >>= 4;
  }
}

void AppendNumber(std::string& out, uint64_t n, int width) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%0*llu", width,
                static_cast<unsigned long long>(n));
  out += buf;
}

// "web-prod-042": the naming most fleets converge on.
void HostName(Rng& rng, std::string& out) {
  out.assign(Pick(rng, kRoles));
  out += '-';
  out += Pick(rng, kEnvs);
  out += '-';
  AppendNumber(out, rng.Below(1000), 3);
}

// An 18-character Salesforce Id. The counter is spread over the 12 digits
// by an invertible affine map, so Ids stay unique but mix upper and lower
// case like real ones and the case-checksum suffix matters.
void MakeId(std::string_view key_prefix, uint64_t counter, std::string& out) {
  static constexpr char kBase62[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static constexpr char kChecksum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  unsigned __int128 modulus = 1;
  for (int i = 0; i < 12; ++i) modulus *= 62;
  // The multiplier is odd and not a multiple of 31, hence invertible.
  unsigned __int128 n =
      (static_cast<unsigned __int128>(counter) * 0x9E3779B97F4A7C15ULL +
       0x2545F4914F6CDD1DULL) %
      modulus;
  out.assign(key_prefix.substr(0, 3));
  out.resize(15, '0');
  for (size_t i = 14; i >= 3; --i) {
    out[i] = kBase62[static_cast<size_t>(n % 62)];
    n /= 62;
  }
  for (size_t chunk = 0; chunk < 3; ++chunk) {
    size_t bits = 0;
    for (size_t i = 0; i < 5; ++i) {
      char c = out[chunk * 5 + i];
      if (c >= 'A' && c <= 'Z') bits |= size_t{1} << i;
    }
    out += kChecksum[bits];
  }
}

// Fills the rows of one table; field names are resolved once.
class RowWriter {
 public:
  explicit RowWriter(Table& table)
      : table_(table), values_(table.def().fields.size()) {
    id_ = Field("Id");
    name_ = Field("Name");
    created_ = Field("CreatedDate");
    modified_ = Field("LastModifiedDate");
    for (size_t i = 0; i < table.def().fields.size(); ++i) {
      if (EndsWith(table.def().fields[i].name, "__disappearanceTime__c")) {
        gone_ = static_cast<int>(i);
      }
    }
  }

  size_t Field(std::string_view name) const {
    int i = table_.FieldIndex(name);
    if (i < 0) {
      throw std::logic_error("generator uses unknown field " +
                             std::string(name));
    }
    return static_cast<size_t>(i);
  }

  void Set(size_t field, Value value) { values_[field] = value; }

  // Starts a record; `name` must stay alive until Finish. Returns the Id,
  // valid until the next Start.
  const std::string& Start(std::string_view name, double created,
                           double modified, std::optional<double> gone) {
    MakeId(table_.def().key_prefix, ++count_, id_text_);
    values_[id_] = Value::Text(id_text_);
    values_[name_] = Value::Text(name);
    values_[created_] = Value::DateTime(created);
    values_[modified_] = Value::DateTime(modified);
    if (gone && gone_ >= 0) {
      values_[static_cast<size_t>(gone_)] = Value::DateTime(*gone);
    }
    return id_text_;
  }

  void Finish() {
    table_.AddRow(values_);
    std::fill(values_.begin(), values_.end(), Value::Null());
  }

 private:
  Table& table_;
  std::vector<Value> values_;
  size_t id_, name_, created_, modified_;
  int gone_ = -1;
  uint64_t count_ = 0;
  std::string id_text_;
};

// AWS accounts, Azure subscriptions or Google projects, which resources
// belong to.
struct Parents {
  std::vector<std::string> ids;
  std::vector<std::string> native_ids;  // account, subscription, project id
  std::vector<uint64_t> cumulative_weights;

  // Zipf-like, so that a few parents hold most resources.
  size_t Pick(Rng& rng) const {
    uint64_t x = rng.Below(cumulative_weights.back());
    return static_cast<size_t>(std::upper_bound(cumulative_weights.begin(),
                                                cumulative_weights.end(), x) -
                               cumulative_weights.begin());
  }
};

// Splits total in proportion to weights, exactly (largest remainder).
std::vector<size_t> Split(size_t total, const std::vector<uint64_t>& weights) {
  uint64_t sum = 0;
  for (uint64_t w : weights) sum += w;
  std::vector<size_t> counts(weights.size());
  if (sum == 0) return counts;
  std::vector<std::pair<uint64_t, size_t>> remainders;
  size_t given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    counts[i] = total * weights[i] / sum;
    given += counts[i];
    remainders.emplace_back(total * weights[i] % sum, i);
  }
  std::stable_sort(
      remainders.begin(), remainders.end(),
      [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; given < total; ++k, ++given) {
    ++counts[remainders[k].second];
  }
  return counts;
}

class Generator {
 public:
  explicit Generator(const GenerateOptions& options)
      : options_(options),
        rng_(options.seed),
        now_(std::floor(options.now_ms)) {}

  Inventory Run();

 private:
  struct Times {
    double created;
    double modified;
    std::optional<double> gone;
  };

  Table& MutableTable(std::string_view name) {
    return *inventory_.FindMutableTable(name);
  }
  double Between(double lo, double hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<double>(rng_.Below(static_cast<uint64_t>(hi - lo)));
  }
  Times MakeTimes(bool deleted, bool stalled);
  bool Deleted() { return rng_.Chance(options_.deleted_share); }
  const std::string& Start(RowWriter& w, std::string_view name, bool deleted,
                           bool stalled) {
    Times t = MakeTimes(deleted, stalled);
    return w.Start(name, t.created, t.modified, t.gone);
  }

  void AddParents(std::string_view object, size_t count, Parents& parents);
  void AddEc2(size_t n);
  void AddEbs(size_t n);
  void AddS3(size_t n);
  void AddRds(size_t n);
  void AddEks(size_t n);
  void AddAzureVm(size_t n);
  void AddAks(size_t n);
  void AddGce(size_t n);
  void AddGke(size_t n);

  // The customer tag fields of the compute objects.
  struct Tags {
    explicit Tags(const RowWriter& w)
        : owner(w.Field(kOwnerTag)), application(w.Field(kApplicationTag)) {}
    size_t owner, application;
  };
  void SetTags(RowWriter& w, const Tags& tags, std::string_view host_name);

  const GenerateOptions& options_;
  Rng rng_;
  double now_;
  Inventory inventory_;
  Parents aws_, azure_, google_;
  // The AWS account whose collector "stopped" 3-5 days ago.
  size_t stalled_account_ = SIZE_MAX;
};

Generator::Times Generator::MakeTimes(bool deleted, bool stalled) {
  double top = stalled ? Between(now_ - 5 * kDayMs, now_ - 3 * kDayMs) : now_;
  Times t{};
  if (deleted) {
    t.gone = Between(now_ - 90 * kDayMs, top);
    // The collector last touched a deleted record when it noticed.
    t.modified = stalled ? top : *t.gone;
  } else {
    t.modified = stalled ? top : Between(now_ - kDayMs, now_);
  }
  t.created = Between(now_ - 730 * kDayMs, t.gone.value_or(t.modified));
  return t;
}

void Generator::AddParents(std::string_view object, size_t count,
                           Parents& parents) {
  RowWriter w(MutableTable(object));
  const size_t native =
      w.Field(object == kAwsAccount          ? "CA10__accountId__c"
              : object == kAzureSubscription ? "CA10__subscriptionId__c"
                                             : "CA10__projectId__c");
  const size_t teams = std::size(kTeams);
  uint64_t total_weight = 0;
  for (size_t i = 0; i < count; ++i) {
    std::string name(kTeams[i % teams]);
    name += '-';
    name += kEnvNames[(i / teams) % std::size(kEnvNames)];
    std::string native_id;
    do {
      native_id.clear();
      if (object == kAwsAccount) {
        AppendNumber(native_id, 100000000000 + rng_.Below(900000000000), 12);
      } else if (object == kAzureSubscription) {
        AppendHex(rng_, native_id, 32);
        native_id[12] = '4';  // a version 4, variant 1 UUID
        native_id[16] = "89ab"[rng_.Below(4)];
        for (size_t dash : {8, 13, 18, 23}) native_id.insert(dash, "-");
      } else {
        native_id = name + '-';
        AppendNumber(native_id, rng_.Below(1000000), 6);
      }
    } while (std::find(parents.native_ids.begin(), parents.native_ids.end(),
                       native_id) != parents.native_ids.end());
    parents.native_ids.push_back(native_id);
    bool stalled = object == kAwsAccount && i == stalled_account_;
    parents.ids.push_back(Start(w, name, false, stalled));
    w.Set(native, Value::Text(native_id));
    w.Finish();
    total_weight += 1000000 / (i + 1);
    parents.cumulative_weights.push_back(total_weight);
  }
}

void Generator::AddEc2(size_t n) {
  RowWriter w(MutableTable(kEc2));
  const size_t instance_id = w.Field("CA10__instanceId__c"),
               state = w.Field("CA10__stateName__c"),
               type = w.Field("CA10__instanceType__c"),
               region = w.Field("CA10__regionName__c"),
               account = w.Field("CA10__account__c"),
               vpc = w.Field("CA10__vpcId__c"),
               ip = w.Field("CA10__publicIpAddress__c"),
               tokens = w.Field("CA10__metadataHttpTokens__c"),
               monitoring = w.Field("CA10__monitoringState__c"),
               cpu = w.Field("CA10__averageCpuOneWeek__c"),
               breeze = w.Field("CA10__breezeLastUpdate__c");
  const Tags tags(w);
  std::string id_text, name, vpc_text, ip_text;
  for (size_t i = 0; i < n; ++i) {
    size_t acct = aws_.Pick(rng_);
    bool deleted = Deleted();
    id_text = "i-";
    AppendHex(rng_, id_text, 17);
    // Untagged instances show their instance id as the name.
    if (rng_.Chance(0.05)) {
      name = id_text;
    } else {
      HostName(rng_, name);
    }
    Start(w, name, deleted, acct == stalled_account_);
    std::string_view state_name =
        deleted && rng_.Chance(0.9) ? "terminated" : Pick(rng_, kEc2States);
    bool live_running = !deleted && state_name == "running";
    w.Set(instance_id, Value::Text(id_text));
    w.Set(state, TextOrNull(state_name));
    w.Set(type, Value::Text(Pick(rng_, kEc2Types)));
    size_t r = PickIndex(rng_, kAwsRegions);
    w.Set(region, Value::Text(kAwsRegions[r].value));
    w.Set(account, Value::Text(aws_.ids[acct]));
    // A few VPCs per account and region, the same on every run.
    Rng vpc_rng(options_.seed ^
                ((acct * 64 + r) * 4 + rng_.Below(3)) * 0xD6E8FEB86659FD93ULL);
    vpc_text = "vpc-";
    AppendHex(vpc_rng, vpc_text, 17);
    w.Set(vpc, Value::Text(vpc_text));
    if (live_running && rng_.Chance(0.3)) {
      ip_text.assign(
          kPublicIpFirstOctets[rng_.Below(std::size(kPublicIpFirstOctets))]);
      for (int k = 0; k < 3; ++k) {
        ip_text += '.';
        ip_text += std::to_string(rng_.Below(256));
      }
      w.Set(ip, Value::Text(ip_text));
    }
    w.Set(tokens, Value::Text(rng_.Chance(0.4) ? "required" : "optional"));
    w.Set(monitoring, Value::Text(rng_.Chance(0.15) ? "enabled" : "disabled"));
    SetTags(w, tags, name);
    if (live_running && rng_.Chance(0.95)) {
      // Most instances idle; a few run hot.
      double u = rng_.Unit();
      w.Set(cpu, Value::Number(std::round(u * u * u * 10000) / 100));
    }
    if (live_running && rng_.Chance(0.35)) {
      w.Set(breeze, Value::DateTime(Between(now_ - 6 * 3600000.0, now_)));
    }
    w.Finish();
  }
}

void Generator::AddEbs(size_t n) {
  RowWriter w(MutableTable(kEbs));
  const size_t volume_id = w.Field("CA10__volumeId__c"),
               type = w.Field("CA10__volumeType__c"),
               status = w.Field("CA10__status__c"),
               encrypted = w.Field("CA10__encrypted__c"),
               iops = w.Field("CA10__iops__c"),
               region = w.Field("CA10__regionName__c"),
               account = w.Field("CA10__account__c");
  std::string id_text, name;
  for (size_t i = 0; i < n; ++i) {
    size_t acct = aws_.Pick(rng_);
    bool deleted = Deleted();
    id_text = "vol-";
    AppendHex(rng_, id_text, 17);
    HostName(rng_, name);
    name += "-data";
    Start(w, name, deleted, acct == stalled_account_);
    std::string_view type_name = Pick(rng_, kVolumeTypes);
    w.Set(volume_id, Value::Text(id_text));
    w.Set(type, Value::Text(type_name));
    w.Set(status, deleted ? Value::Text("deleted")
                          : TextOrNull(Pick(rng_, kVolumeStatuses)));
    w.Set(encrypted, Value::Bool(rng_.Chance(0.7)));
    if (type_name == "io1" || type_name == "io2" || type_name == "gp3") {
      w.Set(iops,
            Value::Number(static_cast<double>(
                kProvisionedIops[rng_.Below(std::size(kProvisionedIops))])));
    }
    w.Set(region, Value::Text(Pick(rng_, kAwsRegions)));
    w.Set(account, Value::Text(aws_.ids[acct]));
    w.Finish();
  }
}

void Generator::AddS3(size_t n) {
  RowWriter w(MutableTable(kS3));
  const size_t region = w.Field("CA10__regionName__c"),
               versioning = w.Field("CA10__versioningStatus__c"),
               account = w.Field("CA10__account__c");
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    size_t acct = aws_.Pick(rng_);
    name.assign(kTeams[rng_.Below(std::size(kTeams))]);
    name += '-';
    name += Pick(rng_, kEnvs);
    name += '-';
    name += kBucketPurposes[rng_.Below(std::size(kBucketPurposes))];
    name += '-';
    AppendHex(rng_, name, 6);
    Start(w, name, Deleted(), acct == stalled_account_);
    w.Set(region, Value::Text(Pick(rng_, kAwsRegions)));
    w.Set(versioning, Value::Text(Pick(rng_, kVersioning)));
    w.Set(account, Value::Text(aws_.ids[acct]));
    w.Finish();
  }
}

void Generator::AddRds(size_t n) {
  RowWriter w(MutableTable(kRds));
  const size_t engine = w.Field("CA10__engine__c"),
               db_class = w.Field("CA10__dbInstanceClass__c"),
               status = w.Field("CA10__status__c"),
               multi_az = w.Field("CA10__multiAz__c"),
               encrypted = w.Field("CA10__storageEncrypted__c"),
               public_access = w.Field("CA10__publiclyAccessible__c"),
               region = w.Field("CA10__regionName__c"),
               account = w.Field("CA10__account__c");
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    size_t acct = aws_.Pick(rng_);
    name.assign(kRdsPurposes[rng_.Below(std::size(kRdsPurposes))]);
    name += '-';
    name += Pick(rng_, kEnvs);
    name += "-db-";
    AppendNumber(name, rng_.Below(100), 2);
    Start(w, name, Deleted(), acct == stalled_account_);
    w.Set(engine, Value::Text(Pick(rng_, kRdsEngines)));
    w.Set(db_class, Value::Text(Pick(rng_, kRdsClasses)));
    w.Set(status, Value::Text(Pick(rng_, kRdsStatuses)));
    w.Set(multi_az, Value::Bool(rng_.Chance(0.4)));
    w.Set(encrypted, Value::Bool(rng_.Chance(0.8)));
    w.Set(public_access, Value::Bool(rng_.Chance(0.05)));
    w.Set(region, Value::Text(Pick(rng_, kAwsRegions)));
    w.Set(account, Value::Text(aws_.ids[acct]));
    w.Finish();
  }
}

void Generator::AddEks(size_t n) {
  RowWriter w(MutableTable(kEks));
  const size_t version = w.Field("CA10A1__version__c"),
               status = w.Field("CA10A1__status__c");
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    name.assign(kTeams[rng_.Below(std::size(kTeams))]);
    name += '-';
    name += Pick(rng_, kEnvs);
    name += "-eks-";
    AppendNumber(name, rng_.Below(10), 1);
    Start(w, name, Deleted(), false);
    w.Set(version, Value::Text(Pick(rng_, kEksVersions)));
    w.Set(status, Value::Text(Pick(rng_, kEksStatuses)));
    w.Finish();
  }
}

void Generator::AddAzureVm(size_t n) {
  RowWriter w(MutableTable(kAzureVm));
  const size_t subscription = w.Field("CA10__subscription__c"),
               location = w.Field("CA10__locationName__c"),
               size = w.Field("CA10__vmSize__c"),
               power = w.Field("CA10__powerState__c"),
               breeze = w.Field("CA10__breezeLastUpdate__c");
  const Tags tags(w);
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    size_t sub = azure_.Pick(rng_);
    HostName(rng_, name);
    name.insert(0, "vm-");
    Start(w, name, Deleted(), false);
    std::string_view power_state = Pick(rng_, kPowerStates);
    w.Set(subscription, Value::Text(azure_.ids[sub]));
    w.Set(location, Value::Text(Pick(rng_, kAzureLocations)));
    w.Set(size, Value::Text(Pick(rng_, kVmSizes)));
    w.Set(power, TextOrNull(power_state));
    SetTags(w, tags, std::string_view(name).substr(3));  // after "vm-"
    if (power_state == "VM running" && rng_.Chance(0.35)) {
      w.Set(breeze, Value::DateTime(Between(now_ - 6 * 3600000.0, now_)));
    }
    w.Finish();
  }
}

void Generator::AddAks(size_t n) {
  RowWriter w(MutableTable(kAks));
  const size_t subscription = w.Field("CA10Z1__subscription__c"),
               version = w.Field("CA10Z1__kubernetesVersion__c"),
               location = w.Field("CA10Z1__location__c");
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    size_t sub = azure_.Pick(rng_);
    name = "aks-";
    name += Pick(rng_, kEnvs);
    name += '-';
    AppendNumber(name, rng_.Below(100), 2);
    Start(w, name, Deleted(), false);
    w.Set(subscription, Value::Text(azure_.ids[sub]));
    w.Set(version, Value::Text(Pick(rng_, kAksVersions)));
    w.Set(location, Value::Text(Pick(rng_, kAzureLocations)));
    w.Finish();
  }
}

void Generator::AddGce(size_t n) {
  RowWriter w(MutableTable(kGce));
  const size_t project = w.Field("CA10__googleProject__c"),
               region = w.Field("CA10__regionName__c"),
               status = w.Field("CA10__status__c"),
               machine_type = w.Field("CA10__machineTypeName__c"),
               breeze = w.Field("CA10__breezeLastUpdate__c");
  const Tags tags(w);
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    size_t p = google_.Pick(rng_);
    HostName(rng_, name);
    Start(w, name, Deleted(), false);
    std::string_view status_name = Pick(rng_, kGceStatuses);
    w.Set(project, Value::Text(google_.ids[p]));
    w.Set(region, Value::Text(Pick(rng_, kGceRegions)));
    w.Set(status, Value::Text(status_name));
    w.Set(machine_type, Value::Text(Pick(rng_, kMachineTypes)));
    SetTags(w, tags, name);
    if (status_name == "RUNNING" && rng_.Chance(0.35)) {
      w.Set(breeze, Value::DateTime(Between(now_ - 6 * 3600000.0, now_)));
    }
    w.Finish();
  }
}

void Generator::AddGke(size_t n) {
  RowWriter w(MutableTable(kGke));
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    name.assign(kTeams[rng_.Below(std::size(kTeams))]);
    name += '-';
    name += Pick(rng_, kEnvs);
    name += "-gke-";
    AppendNumber(name, rng_.Below(10), 1);
    Start(w, name, Deleted(), false);
    w.Finish();
  }
}

// Most machines carry an owner tag, a team, and an application tag named
// after their role ("web", "api", ...); some carry neither.
void Generator::SetTags(RowWriter& w, const Tags& tags,
                        std::string_view host_name) {
  if (rng_.Chance(0.9)) {
    w.Set(tags.owner, Value::Text(kTeams[rng_.Below(std::size(kTeams))]));
  }
  if (rng_.Chance(0.8)) {
    w.Set(tags.application,
          Value::Text(host_name.substr(0, host_name.find('-'))));
  }
}

Inventory Generator::Run() {
  if (!(options_.deleted_share >= 0 && options_.deleted_share <= 1)) {
    throw InventoryError("deleted_share must be between 0 and 1");
  }
  // Up to the year 9999, which the datetime text form can carry.
  if (!(options_.now_ms >= 0 && options_.now_ms < 253402300800000.0)) {
    throw InventoryError("now_ms is out of range");
  }
  struct Kind {
    std::string_view object;
    uint64_t per_mille;
    void (Generator::*add)(size_t);
  };
  const Kind kinds[] = {
      {kEc2, 300, &Generator::AddEc2}, {kEbs, 280, &Generator::AddEbs},
      {kS3, 80, &Generator::AddS3},    {kRds, 40, &Generator::AddRds},
      {kEks, 5, &Generator::AddEks},   {kAzureVm, 150, &Generator::AddAzureVm},
      {kAks, 5, &Generator::AddAks},   {kGce, 135, &Generator::AddGce},
      {kGke, 5, &Generator::AddGke}};
  std::vector<uint64_t> weights;
  for (const Kind& kind : kinds) {
    bool wanted = options_.only_objects.empty();
    for (const std::string& only : options_.only_objects) {
      wanted = wanted || ToLower(only) == ToLower(kind.object);
    }
    weights.push_back(wanted ? kind.per_mille : 0);
  }
  for (const std::string& only : options_.only_objects) {
    bool known = false;
    for (const Kind& kind : kinds) {
      known = known || ToLower(only) == ToLower(kind.object);
    }
    if (!known) {
      throw InventoryError("only_objects: " + only +
                           " is not a generated resource object");
    }
  }

  for (ObjectDef& def : Inventory::CloudawareSchema()) {
    inventory_.AddTable(std::move(def));
  }
  const size_t records = options_.records;
  const size_t accounts = std::clamp<size_t>((records + 200) / 400, 2, 60);
  const size_t subscriptions =
      std::clamp<size_t>((records + 500) / 1000, 1, 20);
  const size_t projects = subscriptions;
  if (accounts >= 3) stalled_account_ = accounts - 1;
  AddParents(kAwsAccount, accounts, aws_);
  AddParents(kAzureSubscription, subscriptions, azure_);
  AddParents(kGoogleProject, projects, google_);

  const size_t parents = accounts + subscriptions + projects;
  const size_t resources = records > parents ? records - parents : 0;
  std::vector<size_t> counts = Split(resources, weights);
  for (size_t i = 0; i < std::size(kinds); ++i) {
    // A local copy: GCC 12's UBSan misreads an indexed member pointer call.
    void (Generator::*add)(size_t) = kinds[i].add;
    (this->*add)(counts[i]);
  }
  return std::move(inventory_);
}

// ------------------------------------------------------------------ JSON

using Json = nlohmann::json;

[[noreturn]] void Fail(const std::string& path, const std::string& problem) {
  throw InventoryError(path + ": " + problem);
}

std::string Got(const Json& j) { return std::string("got ") + j.type_name(); }

std::string Index(size_t i) { return "[" + std::to_string(i) + "]"; }

// The string at obj[key]; `fallback` when absent, unless required.
std::string GetString(const Json& obj, const char* key, const std::string& path,
                      const std::string* fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (!fallback) Fail(path + "." + key, "missing");
    return *fallback;
  }
  if (!it->is_string()) {
    Fail(path + "." + key, "expected a string, " + Got(*it));
  }
  return it->get<std::string>();
}

FieldDef ParseFieldDef(const Json& j, const std::string& path) {
  if (!j.is_object()) Fail(path, "expected an object, " + Got(j));
  FieldDef f;
  f.name = GetString(j, "name", path, nullptr);
  if (f.name.empty()) Fail(path + ".name", "empty");
  f.label = GetString(j, "label", path, &f.name);
  std::string type_name = GetString(j, "type", path, nullptr);
  std::optional<FieldType> type = ParseFieldType(type_name);
  if (!type) Fail(path + ".type", "unknown field type \"" + type_name + "\"");
  f.type = *type;
  f.groupable = IsGroupableType(f.type);
  if (auto it = j.find("groupable"); it != j.end()) {
    if (!it->is_boolean()) {
      Fail(path + ".groupable", "expected a boolean, " + Got(*it));
    }
    f.groupable = it->get<bool>();
  }
  if (f.type != FieldType::kReference) {
    for (const char* key : {"referenceTo", "relationshipName"}) {
      if (j.contains(key)) Fail(path + "." + key, "only for reference fields");
    }
    return f;
  }
  f.reference_to = GetString(j, "referenceTo", path, nullptr);
  if (f.reference_to.empty()) Fail(path + ".referenceTo", "empty");
  f.relationship_name = GetString(j, "relationshipName", path, nullptr);
  if (f.relationship_name.empty()) Fail(path + ".relationshipName", "empty");
  return f;
}

ObjectDef ParseObjectDef(const Json& j, const std::string& path) {
  if (!j.is_object()) Fail(path, "expected an object, " + Got(j));
  ObjectDef def;
  def.name = GetString(j, "name", path, nullptr);
  if (def.name.empty()) Fail(path + ".name", "empty");
  def.label = GetString(j, "label", path, &def.name);
  def.label_plural = GetString(j, "labelPlural", path, &def.label);
  const std::string none;
  def.key_prefix = GetString(j, "keyPrefix", path, &none);
  auto fields = j.find("fields");
  if (fields == j.end()) Fail(path + ".fields", "missing");
  if (!fields->is_array()) {
    Fail(path + ".fields", "expected an array, " + Got(*fields));
  }
  for (size_t i = 0; i < fields->size(); ++i) {
    def.fields.push_back(
        ParseFieldDef((*fields)[i], path + ".fields" + Index(i)));
  }
  return def;
}

// Throws InventoryError naming the problem; the caller adds the path.
Value ParseValue(const Json& v, FieldType type) {
  if (v.is_null()) return Value::Null();
  switch (type) {
    case FieldType::kId:
    case FieldType::kString:
    case FieldType::kPicklist:
    case FieldType::kReference:
      if (!v.is_string()) throw InventoryError("expected a string, " + Got(v));
      return Value::Text(v.get_ref<const std::string&>());
    case FieldType::kBoolean:
      if (!v.is_boolean()) {
        throw InventoryError("expected a boolean, " + Got(v));
      }
      return Value::Bool(v.get<bool>());
    case FieldType::kInt:
    case FieldType::kDouble: {
      if (!v.is_number()) throw InventoryError("expected a number, " + Got(v));
      double d = v.get<double>();
      if (!std::isfinite(d)) throw InventoryError("not a finite number");
      if (type == FieldType::kInt &&
          (d != std::trunc(d) || std::fabs(d) > kMaxExactInt)) {
        throw InventoryError("expected a whole number, got " + v.dump());
      }
      return Value::Number(d);
    }
    case FieldType::kDateTime: {
      if (!v.is_string()) {
        throw InventoryError("expected a datetime string, " + Got(v));
      }
      std::optional<double> ms = ParseDateTime(v.get_ref<const std::string&>());
      if (!ms) {
        throw InventoryError(
            "expected a datetime like 2026-01-01T00:00:00.000+0000, got " +
            v.dump());
      }
      return Value::DateTime(*ms);
    }
  }
  throw InventoryError("unsupported field type");
}

void LoadRecords(const std::string& object, const Json& rows, Table& table) {
  const std::string path = "records." + object;
  if (!rows.is_array()) Fail(path, "expected an array, " + Got(rows));
  const std::vector<FieldDef>& fields = table.def().fields;
  const auto id_field = static_cast<size_t>(table.FieldIndex("Id"));
  std::vector<Value> values(fields.size());
  std::vector<bool> seen(fields.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const Json& row = rows[r];
    if (!row.is_object()) {
      Fail(path + Index(r), "expected an object, " + Got(row));
    }
    std::fill(values.begin(), values.end(), Value::Null());
    std::fill(seen.begin(), seen.end(), false);
    for (const auto& item : row.items()) {
      const std::string& key = item.key();
      int i = table.FieldIndex(key);
      if (i < 0) {
        Fail(path + Index(r) + "." + key,
             "no such field on " + table.def().name);
      }
      auto f = static_cast<size_t>(i);
      if (seen[f]) Fail(path + Index(r) + "." + key, "field given twice");
      seen[f] = true;
      try {
        values[f] = ParseValue(item.value(), fields[f].type);
      } catch (const InventoryError& e) {
        Fail(path + Index(r) + "." + key, e.what());
      }
    }
    const Value& id = values[id_field];
    if (id.is_null() || id.text.empty()) {
      Fail(path + Index(r) + ".Id", "missing");
    }
    if (table.FindById(id.text)) {
      Fail(path + Index(r) + ".Id", "duplicate Id " + std::string(id.text));
    }
    try {
      table.AddRow(values);
    } catch (const InventoryError& e) {
      Fail(path + Index(r), e.what());
    }
  }
}

Json ObjectDefToJson(const ObjectDef& def) {
  Json fields = Json::array();
  for (const FieldDef& f : def.fields) {
    Json field = {{"name", f.name},
                  {"label", f.label},
                  {"type", std::string(FieldTypeName(f.type))},
                  {"groupable", f.groupable}};
    if (f.type == FieldType::kReference) {
      field["referenceTo"] = f.reference_to;
      field["relationshipName"] = f.relationship_name;
    }
    fields.push_back(std::move(field));
  }
  return {{"name", def.name},
          {"label", def.label},
          {"labelPlural", def.label_plural},
          {"keyPrefix", def.key_prefix},
          {"fields", std::move(fields)}};
}

Json ValueToJson(const Value& v, FieldType type) {
  switch (v.kind) {
    case Value::Kind::kNull:
      return nullptr;
    case Value::Kind::kText:
      return std::string(v.text);
    case Value::Kind::kBool:
      return v.number != 0;
    case Value::Kind::kDateTime:
      return FormatDateTime(v.number);
    case Value::Kind::kNumber:
      // Whole numbers past 2^53 stay doubles; the cast would overflow.
      if (type == FieldType::kInt && std::fabs(v.number) <= kMaxExactInt) {
        return static_cast<int64_t>(v.number);
      }
      return v.number;
  }
  return nullptr;
}

nlohmann::ordered_json Urls(std::string_view name,
                            std::string_view api_version) {
  std::string base = "/services/data/v" + std::string(api_version) +
                     "/sobjects/" + std::string(name);
  return {{"sobject", base},
          {"describe", base + "/describe"},
          {"rowTemplate", base + "/{ID}"}};
}

}  // namespace

std::vector<ObjectDef> Inventory::CloudawareSchema() {
  using T = FieldType;
  // Object names, and field names not marked "guess", come from
  // Cloudaware's public material (github.com/cloudaware/compliance-policies,
  // its types' extracts, policies and test data). Guesses appear in no
  // public Cloudaware source, and fields that source contradicts are left
  // out, so that a query on them fails here as it would on a real org.
  // Lookups other than EC2's account follow a pattern seen on other
  // objects of the same cloud ("pattern").
  const FieldDef account = Field("CA10__account__c", "Account", T::kReference,
                                 kAwsAccount, "CA10__account__r");  // pattern
  const FieldDef region =
      Field("CA10__regionName__c", "Region Name", T::kString);
  const FieldDef aws_gone =
      Field("CA10__disappearanceTime__c", "Deleted From AWS", T::kDateTime);
  const FieldDef azure_gone =
      Field("CA10__disappearanceTime__c", "Deleted From Azure", T::kDateTime);
  const FieldDef google_gone =
      Field("CA10__disappearanceTime__c", "Deleted From Google", T::kDateTime);
  const FieldDef breeze =
      Field("CA10__breezeLastUpdate__c", "Breeze Last Update", T::kDateTime);
  // This org's own tags (customer fields, no namespace).
  const FieldDef owner = Field(kOwnerTag, "Tag: owner", T::kString);
  const FieldDef application =
      Field(kApplicationTag, "Tag: application", T::kString);
  // The account, subscription and project objects carry no disappearance
  // time: no record of them in Cloudaware's test data has one.
  return {
      Object(kAwsAccount, "AWS Account", "a01",
             {Field("CA10__accountId__c", "Account ID", T::kString)}),
      Object(
          kEc2, "AWS EC2 Instance", "a02",
          {Field("CA10__instanceId__c", "Instance ID", T::kString),
           Field("CA10__stateName__c", "State Name", T::kPicklist),
           Field("CA10__instanceType__c", "Instance Type",
                 T::kString),  // guess: one guide example only
           region, account, Field("CA10__vpcId__c", "VPC ID", T::kString),
           Field("CA10__publicIpAddress__c", "Public IP Address", T::kString),
           Field("CA10__metadataHttpTokens__c", "Metadata HTTP Tokens",
                 T::kPicklist),
           Field("CA10__monitoringState__c", "Monitoring State", T::kPicklist),
           Field("CA10__averageCpuOneWeek__c", "Average CPU One Week",
                 T::kDouble),
           breeze, owner, application, aws_gone}),
      Object(
          kEbs, "AWS EBS Volume", "a03",
          {Field("CA10__volumeId__c", "Volume ID", T::kString),  // guess
           Field("CA10__volumeType__c", "Volume Type", T::kPicklist),
           Field("CA10__status__c", "Status", T::kPicklist),
           Field("CA10__encrypted__c", "Encrypted", T::kBoolean),
           Field("CA10__iops__c", "IOPS", T::kInt), region, account, aws_gone}),
      Object(kS3, "AWS S3 Bucket", "a04",
             {region,
              Field("CA10__versioningStatus__c", "Versioning Status",
                    T::kPicklist),
              account, aws_gone}),
      Object(
          kRds, "AWS RDS DB Instance", "a05",
          {Field("CA10__engine__c", "Engine", T::kPicklist),
           Field("CA10__dbInstanceClass__c", "DB Instance Class",
                 T::kString),  // guess
           Field("CA10__status__c", "Status", T::kPicklist),
           Field("CA10__multiAz__c", "Multi AZ", T::kBoolean),
           Field("CA10__storageEncrypted__c", "Storage Encrypted", T::kBoolean),
           Field("CA10__publiclyAccessible__c", "Publicly Accessible",
                 T::kBoolean),
           region, account, aws_gone}),
      Object(kEks, "AWS EKS Cluster", "a06",
             {Field("CA10A1__version__c", "Version", T::kString),  // guess
              Field("CA10A1__status__c", "Status", T::kPicklist),  // guess
              Field("CA10A1__disappearanceTime__c", "Deleted From AWS",
                    T::kDateTime)}),
      Object(kAzureSubscription, "Azure Subscription", "a10",
             {Field("CA10__subscriptionId__c", "Subscription ID", T::kString)}),
      Object(kAzureVm, "Azure Virtual Machine", "a11",
             {Field("CA10__subscription__c", "Subscription", T::kReference,
                    kAzureSubscription, "CA10__subscription__r"),  // pattern
              Field("CA10__locationName__c", "Location Name", T::kString),
              Field("CA10__vmSize__c", "VM Size", T::kString),  // guess
              Field("CA10__powerState__c", "Power State", T::kPicklist), breeze,
              owner, application, azure_gone}),
      Object(kAks, "Azure AKS Cluster", "a12",
             {Field("CA10Z1__subscription__c", "Subscription", T::kReference,
                    kAzureSubscription, "CA10Z1__subscription__r"),
              Field("CA10Z1__kubernetesVersion__c", "Kubernetes Version",
                    T::kString),                                     // guess
              Field("CA10Z1__location__c", "Location", T::kString),  // guess
              Field("CA10Z1__disappearanceTime__c", "Deleted From Azure",
                    T::kDateTime)}),
      Object(kGoogleProject, "Google Project", "a20",
             {Field("CA10__projectId__c", "Project ID", T::kString)}),
      Object(
          kGce, "Google Compute Engine Instance", "a21",
          {Field("CA10__googleProject__c", "Google Project", T::kReference,
                 kGoogleProject, "CA10__googleProject__r"),  // pattern
           region, Field("CA10__status__c", "Status", T::kPicklist),
           Field("CA10__machineTypeName__c", "Machine Type Name", T::kString),
           breeze, owner, application, google_gone}),
      Object(kGke, "Google GKE Cluster", "a22",
             {Field("CA10G1__disappearanceTime__c", "Deleted From Google",
                    T::kDateTime)}),
  };
}

Inventory Inventory::Generate(const GenerateOptions& options) {
  return Generator(options).Run();
}

Inventory Inventory::FromJson(const nlohmann::json& document) {
  if (!document.is_object()) {
    Fail("document", "expected an object, " + Got(document));
  }
  for (const auto& item : document.items()) {
    if (item.key() != "schema" && item.key() != "records") {
      Fail("document", "unknown key \"" + item.key() + "\"");
    }
  }
  Inventory inventory;
  auto schema = document.find("schema");
  if (schema == document.end()) {
    for (ObjectDef& def : CloudawareSchema()) {
      inventory.AddTable(std::move(def));
    }
  } else {
    if (!schema->is_array()) {
      Fail("schema", "expected an array, " + Got(*schema));
    }
    for (size_t i = 0; i < schema->size(); ++i) {
      std::string path = "schema" + Index(i);
      ObjectDef def = ParseObjectDef((*schema)[i], path);
      if (inventory.FindTable(def.name)) {
        Fail(path + ".name", "object " + def.name + " is defined twice");
      }
      try {
        inventory.AddTable(std::move(def));
      } catch (const InventoryError& e) {
        Fail(path, e.what());
      }
    }
    for (size_t i = 0; i < inventory.tables().size(); ++i) {
      const std::vector<FieldDef>& fields = inventory.tables()[i]->def().fields;
      for (size_t k = 0; k < fields.size(); ++k) {
        if (fields[k].type == FieldType::kReference &&
            !inventory.FindTable(fields[k].reference_to)) {
          Fail("schema" + Index(i) + ".fields" + Index(k) + ".referenceTo",
               "unknown object " + fields[k].reference_to);
        }
      }
    }
  }
  auto records = document.find("records");
  if (records != document.end()) {
    if (!records->is_object()) {
      Fail("records", "expected an object, " + Got(*records));
    }
    for (const auto& item : records->items()) {
      Table* table = inventory.FindMutableTable(item.key());
      if (!table) {
        Fail("records." + item.key(), "unknown object (not in the schema)");
      }
      LoadRecords(item.key(), item.value(), *table);
    }
  }
  return inventory;
}

nlohmann::json Inventory::ToJson() const {
  Json schema = Json::array();
  Json records = Json::object();
  for (const auto& table : tables_) {
    const std::vector<FieldDef>& fields = table->def().fields;
    schema.push_back(ObjectDefToJson(table->def()));
    Json rows = Json::array();
    for (size_t r = 0; r < table->rows(); ++r) {
      Json row = Json::object();
      for (size_t f = 0; f < fields.size(); ++f) {
        Value v = table->column(f).Get(r);
        if (!v.is_null()) row[fields[f].name] = ValueToJson(v, fields[f].type);
      }
      rows.push_back(std::move(row));
    }
    records[table->def().name] = std::move(rows);
  }
  return {{"schema", std::move(schema)}, {"records", std::move(records)}};
}

nlohmann::ordered_json DescribeGlobalJson(const Inventory& inventory,
                                          std::string_view api_version) {
  nlohmann::ordered_json sobjects = nlohmann::ordered_json::array();
  for (const auto& table : inventory.tables()) {
    const ObjectDef& def = table->def();
    sobjects.push_back({{"activateable", false},
                        {"createable", false},
                        {"custom", EndsWith(def.name, "__c")},
                        {"customSetting", false},
                        {"deletable", false},
                        {"keyPrefix", def.key_prefix},
                        {"label", def.label},
                        {"labelPlural", def.label_plural},
                        {"name", def.name},
                        {"queryable", true},
                        {"retrieveable", true},
                        {"searchable", true},
                        {"updateable", false},
                        {"urls", Urls(def.name, api_version)}});
  }
  return {{"encoding", "UTF-8"},
          {"maxBatchSize", 200},
          {"sobjects", std::move(sobjects)}};
}

nlohmann::ordered_json DescribeJson(const ObjectDef& def,
                                    std::string_view api_version) {
  using OJson = nlohmann::ordered_json;
  OJson fields = OJson::array();
  for (const FieldDef& f : def.fields) {
    bool reference = f.type == FieldType::kReference;
    int length =
        f.type == FieldType::kId || reference                            ? 18
        : f.type == FieldType::kString || f.type == FieldType::kPicklist ? 255
                                                                         : 0;
    fields.push_back(
        {{"name", f.name},
         {"label", f.label},
         {"type", std::string(FieldTypeName(f.type))},
         {"groupable", f.groupable},
         {"filterable", true},
         // Salesforce sorts on every type this simulator has.
         {"sortable", true},
         {"aggregatable", true},
         {"nillable", f.type != FieldType::kId},
         {"custom", EndsWith(f.name, "__c")},
         {"length", length},
         {"referenceTo",
          reference ? OJson::array({f.reference_to}) : OJson::array()},
         {"relationshipName",
          reference ? OJson(f.relationship_name) : OJson(nullptr)}});
  }
  return {{"name", def.name},
          {"label", def.label},
          {"labelPlural", def.label_plural},
          {"keyPrefix", def.key_prefix},
          {"custom", EndsWith(def.name, "__c")},
          {"queryable", true},
          {"fields", std::move(fields)},
          {"urls", Urls(def.name, api_version)}};
}

}  // namespace cmdb_simulator
