// The deployment artifacts (Dockerfile, docker-compose.yml, the Kubernetes
// manifests, the systemd unit, the Prometheus configs) read the way the tools
// that consume them would: the fields users rely on, the names that must agree
// from one file to the next, and the shipped exporter configs through the
// exporter's own --config.check. Nothing here needs Docker or a cluster.
#include <fnmatch.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process_util.h"

namespace {

namespace fs = std::filesystem;
using test_util::FreePort;
using test_util::Process;
using test_util::ReadFile;
using test_util::WriteFile;

// Where every image, manifest and unit expects the config and the binary.
constexpr char kConfigFile[] = "/etc/cloudaware_exporter/config.yml";
constexpr char kExporterPath[] = "/usr/local/bin/cloudaware_exporter";
constexpr int kExporterPort = 9866;

fs::path Project(const std::string& relative) {
  return fs::path(PROJECT_DIR) / relative;
}

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

// Whitespace-separated words.
std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> words;
  std::istringstream in(s);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

std::string Str(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar() : "";
}

// Seconds in a Prometheus duration such as 15s, 1m or 2h; -1 if not one.
long Seconds(const std::string& duration) {
  std::smatch m;
  if (!std::regex_match(duration, m, std::regex(R"((\d+)([smh]))"))) return -1;
  long n = std::stol(m[1]);
  return m[2] == "s" ? n : m[2] == "m" ? n * 60 : n * 3600;
}

std::optional<fs::path> Which(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (const std::string& dir : Split(path ? path : "/usr/bin:/bin", ':')) {
    fs::path candidate = fs::path(dir) / program;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

// The environment variables a config refers to as ${NAME}.
std::set<std::string> EnvReferences(const std::string& config) {
  std::set<std::string> names;
  std::regex ref(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
  for (auto it = std::sregex_iterator(config.begin(), config.end(), ref);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

// ---------------------------------------------------------------------------
// Kubernetes

fs::path KubernetesDir() { return Project("deploy/kubernetes"); }

// The documents of the given kind in a manifest file.
std::vector<YAML::Node> Manifests(const std::string& file,
                                  const std::string& kind) {
  std::vector<YAML::Node> found;
  for (const YAML::Node& doc :
       YAML::LoadAllFromFile((KubernetesDir() / file).string())) {
    if (Str(doc["kind"]) == kind) found.push_back(doc);
  }
  return found;
}

// Every key/value of `subset` is in `labels`.
bool LabelsMatch(const YAML::Node& subset, const YAML::Node& labels) {
  if (!subset.IsMap() || subset.size() == 0) return false;
  for (const auto& kv : subset) {
    if (Str(labels[kv.first.Scalar()]) != Str(kv.second)) return false;
  }
  return true;
}

// The exporter's container in the Deployment and the pod around it.
struct Workload {
  YAML::Node deployment;
  YAML::Node pod;
  YAML::Node container;
};

Workload LoadWorkload() {
  Workload w;
  auto deployments = Manifests("deployment.yaml", "Deployment");
  if (deployments.size() != 1) return w;
  w.deployment = deployments[0];
  w.pod = w.deployment["spec"]["template"]["spec"];
  for (const YAML::Node& c : w.pod["containers"]) {
    if (Str(c["image"]).find("cloudaware_exporter") != std::string::npos) {
      w.container = c;
    }
  }
  return w;
}

// A container port given by number or by name, as probes and Services do.
int ContainerPort(const YAML::Node& container, const YAML::Node& port) {
  for (const YAML::Node& p : container["ports"]) {
    if (Str(p["name"]) == Str(port) || Str(p["containerPort"]) == Str(port)) {
      return p["containerPort"].as<int>();
    }
  }
  return -1;
}

// A securityContext field, from the container or else from the pod.
std::string Security(const Workload& w, const std::string& field) {
  YAML::Node c = w.container["securityContext"][field];
  if (c.IsDefined() && !c.IsNull()) return Str(c);
  return Str(w.pod["securityContext"][field]);
}

struct VolumeMount {
  YAML::Node volume;
  std::string path;
  bool read_only = false;
};

// The container's mounts of volumes of one type (configMap, secret, ...).
std::vector<VolumeMount> MountsOfType(const Workload& w,
                                      const std::string& type) {
  std::vector<VolumeMount> mounts;
  for (const YAML::Node& m : w.container["volumeMounts"]) {
    for (const YAML::Node& v : w.pod["volumes"]) {
      if (Str(v["name"]) == Str(m["name"]) && v[type].IsDefined()) {
        mounts.push_back(
            {v, Str(m["mountPath"]),
             m["readOnly"].IsDefined() && m["readOnly"].as<bool>()});
      }
    }
  }
  return mounts;
}

std::string ConfigFileArg(const YAML::Node& args) {
  std::string file;
  for (const YAML::Node& a : args) {
    if (Str(a).rfind("--config.file=", 0) == 0) file = Str(a).substr(14);
  }
  return file;
}

// ---------------------------------------------------------------------------
// docker-compose.yml

YAML::Node Compose() {
  return YAML::LoadFile(Project("docker-compose.yml").string());
}

struct Mount {
  fs::path source;  // absolute on the host
  std::string target;
  bool read_only = false;
};

// A service's bind mounts, short ("./src:/dst:ro") or long syntax.
std::vector<Mount> Mounts(const YAML::Node& service) {
  std::vector<Mount> mounts;
  for (const YAML::Node& v : service["volumes"]) {
    Mount m;
    std::string source;
    if (v.IsScalar()) {
      auto parts = Split(v.Scalar(), ':');
      if (parts.size() < 2) continue;
      source = parts[0];
      m.target = parts[1];
      m.read_only = parts.size() > 2 && parts[2] == "ro";
    } else {
      source = Str(v["source"]);
      m.target = Str(v["target"]);
      m.read_only = v["read_only"].IsDefined() && v["read_only"].as<bool>();
    }
    if (source.rfind("./", 0) != 0 && source.rfind("../", 0) != 0) continue;
    m.source = (fs::path(PROJECT_DIR) / source).lexically_normal();
    mounts.push_back(m);
  }
  return mounts;
}

std::optional<Mount> MountAt(const YAML::Node& service,
                             const std::string& target) {
  for (const Mount& m : Mounts(service)) {
    if (m.target == target) return m;
  }
  return std::nullopt;
}

std::optional<Mount> MountOf(const YAML::Node& service,
                             const fs::path& source) {
  for (const Mount& m : Mounts(service)) {
    if (fs::exists(m.source) && fs::equivalent(m.source, source)) return m;
  }
  return std::nullopt;
}

std::set<std::string> DependsOn(const YAML::Node& service) {
  std::set<std::string> names;
  const YAML::Node& deps = service["depends_on"];
  if (deps.IsSequence()) {
    for (const YAML::Node& d : deps) names.insert(Str(d));
  } else if (deps.IsMap()) {
    for (const auto& kv : deps) names.insert(kv.first.Scalar());
  }
  return names;
}

std::vector<std::string> Command(const YAML::Node& service) {
  const YAML::Node& command = service["command"];
  if (command.IsScalar()) return Words(command.Scalar());
  std::vector<std::string> args;
  for (const YAML::Node& a : command) args.push_back(Str(a));
  return args;
}

std::string FlagValue(const std::vector<std::string>& args,
                      const std::string& flag) {
  for (const std::string& a : args) {
    if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
  }
  return "";
}

// ---------------------------------------------------------------------------
// Dockerfile

struct Instruction {
  std::string op;  // upper case
  std::string args;
};

struct Stage {
  std::string base;
  std::string name;
  std::vector<Instruction> body;
};

// Stages of a Dockerfile: continuation lines joined, comments dropped.
std::vector<Stage> ParseDockerfile(const std::string& text) {
  std::vector<Stage> stages;
  std::istringstream in(text);
  std::string line, logical;
  while (std::getline(in, line)) {
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    if (trimmed.back() == '\\') {
      logical += trimmed.substr(0, trimmed.size() - 1) + " ";
      continue;
    }
    logical += trimmed;
    size_t space = logical.find_first_of(" \t");
    Instruction ins;
    ins.op = logical.substr(0, space);
    std::transform(ins.op.begin(), ins.op.end(), ins.op.begin(), [](char c) {
      return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    });
    ins.args = space == std::string::npos ? "" : Trim(logical.substr(space));
    logical.clear();
    if (ins.op == "FROM") {
      Stage stage;
      std::vector<std::string> words;
      for (const std::string& w : Words(ins.args)) {
        if (w.rfind("--", 0) != 0) words.push_back(w);
      }
      if (!words.empty()) stage.base = words[0];
      if (words.size() == 3) stage.name = words[2];
      stages.push_back(stage);
    } else if (!stages.empty()) {
      stages.back().body.push_back(ins);
    }
  }
  return stages;
}

class Dockerfile {
 public:
  Dockerfile() : stages_(ParseDockerfile(ReadFile(Project("Dockerfile")))) {}

  const std::vector<Stage>& stages() const { return stages_; }

  const Stage* Find(const std::string& name) const {
    for (const Stage& s : stages_) {
      if (!name.empty() && s.name == name) return &s;
    }
    return nullptr;
  }

  // The stage and the stages it is built FROM, nearest first.
  std::vector<const Stage*> Chain(const Stage& stage) const {
    std::vector<const Stage*> chain = {&stage};
    while (const Stage* parent = Find(chain.back()->base)) {
      if (chain.size() > stages_.size()) break;  // a cycle
      chain.push_back(parent);
    }
    return chain;
  }

  // The image a stage ultimately starts from.
  std::string RootImage(const Stage& stage) const {
    return Chain(stage).back()->base;
  }

  // The RUN instructions that built a stage, its parents' included.
  std::vector<std::string> Runs(const Stage& stage) const {
    std::vector<std::string> runs;
    for (const Stage* s : Chain(stage)) {
      for (const Instruction& i : s->body) {
        if (i.op == "RUN") runs.push_back(i.args);
      }
    }
    return runs;
  }

  bool AnyRunMatches(const Stage& stage, const std::string& pattern) const {
    std::regex re(pattern);
    for (const std::string& run : Runs(stage)) {
      if (std::regex_search(run, re)) return true;
    }
    return false;
  }

  // The last instruction `op` in a stage or the stages it comes from.
  std::optional<std::string> Last(const Stage& stage,
                                  const std::string& op) const {
    for (const Stage* s : Chain(stage)) {
      for (auto i = s->body.rbegin(); i != s->body.rend(); ++i) {
        if (i->op == op) return i->args;
      }
    }
    return std::nullopt;
  }

  // The stage a `COPY --from=STAGE ... dest` into `stage` comes from.
  const Stage* CopiedFrom(const Stage& stage, const std::string& dest) const {
    for (const Instruction& i : stage.body) {
      auto words = Words(i.args);
      if (i.op != "COPY" || words.size() < 3 || words.back() != dest) continue;
      for (const std::string& w : words) {
        if (w.rfind("--from=", 0) == 0) return Find(w.substr(7));
      }
    }
    return nullptr;
  }

 private:
  std::vector<Stage> stages_;
};

// An exec-form JSON array (ENTRYPOINT, HEALTHCHECK CMD); JSON is YAML.
std::vector<std::string> ExecForm(const std::string& json) {
  std::vector<std::string> argv;
  YAML::Node node = YAML::Load(json);
  if (!node.IsSequence()) return argv;
  for (const YAML::Node& a : node) argv.push_back(Str(a));
  return argv;
}

// ---------------------------------------------------------------------------
// systemd

// "Section.Key" -> every value given, in order.
std::map<std::string, std::vector<std::string>> ParseUnit(
    const std::string& text) {
  std::map<std::string, std::vector<std::string>> keys;
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    keys[section + "." + Trim(line.substr(0, eq))].push_back(
        Trim(line.substr(eq + 1)));
  }
  return keys;
}

// ---------------------------------------------------------------------------

// A scratch directory for each test; CLOUDAWARE_* cleared so that only what
// a test sets reaches the exporter.
class DeployTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("deploy-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    for (const char* name :
         {"CLOUDAWARE_URL", "CLOUDAWARE_CLIENT_ID",
          "CLOUDAWARE_CLIENT_SECRET_FILE", "CREDENTIALS_DIRECTORY"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs a program with extra environment variables; its exit code (-1 if
  // it hung) and its output.
  std::pair<int, std::string> Run(
      const std::vector<std::string>& args,
      const std::map<std::string, std::string>& env = {}) {
    for (const auto& [name, value] : env) {
      setenv(name.c_str(), value.c_str(), 1);
    }
    Process p(args, dir_, "run-");
    for (const auto& [name, value] : env) unsetenv(name.c_str());
    int code = p.Wait(std::chrono::seconds(60)).value_or(-1);
    return {code, p.out() + p.err()};
  }

  std::pair<int, std::string> ConfigCheck(
      const fs::path& config,
      const std::map<std::string, std::string>& env = {}) {
    return Run(
        {EXPORTER_BINARY, "--config.check", "--config.file=" + config.string()},
        env);
  }

  fs::path dir_;
};

class KubernetesTest : public DeployTest {};
class ComposeTest : public DeployTest {};
class SystemdTest : public DeployTest {};
class DockerfileTest : public DeployTest {};
class DashboardTest : public DeployTest {};
class RulesTest : public DeployTest {};

YAML::Node ExampleConfig() {
  return YAML::LoadFile(
      Project("deploy/examples/cloudaware_exporter.yml").string());
}

// File name to text, for every pack the example config pulls in.
std::map<std::string, std::string> ExamplePacks() {
  std::map<std::string, std::string> packs;
  for (const auto& e :
       fs::directory_iterator(Project("deploy/examples/packs"))) {
    if (e.path().extension() == ".yml") {
      packs[e.path().filename().string()] = ReadFile(e.path());
    }
  }
  return packs;
}

// --- Kubernetes ------------------------------------------------------------

TEST_F(KubernetesTest, KustomizationListsEveryManifestButTheExampleSecret) {
  YAML::Node k =
      YAML::LoadFile((KubernetesDir() / "kustomization.yaml").string());
  std::set<std::string> listed;
  for (const YAML::Node& r : k["resources"]) {
    listed.insert(Str(r));
    EXPECT_TRUE(fs::is_regular_file(KubernetesDir() / Str(r)))
        << Str(r) << " is listed but does not exist";
  }
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(KubernetesDir())) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".yaml" && name != "kustomization.yaml" &&
        name != "secret.example.yaml") {
      present.insert(name);
    }
  }
  EXPECT_EQ(listed, present);
  EXPECT_FALSE(listed.count("secret.example.yaml"))
      << "real credentials must not live in this directory";
  for (const char* file : {"deployment.yaml", "service.yaml", "configmap.yaml",
                           "servicemonitor.yaml"}) {
    EXPECT_TRUE(listed.count(file)) << file;
  }

  // `images:` can retarget the Deployment's image only if the names agree.
  Workload w = LoadWorkload();
  std::string image = Str(w.container["image"]);
  std::set<std::string> names;
  for (const YAML::Node& i : k["images"]) names.insert(Str(i["name"]));
  EXPECT_TRUE(names.count(image.substr(0, image.rfind(':')))) << image;
}

TEST_F(KubernetesTest, DeploymentProbesPortsAndResources) {
  Workload w = LoadWorkload();
  ASSERT_TRUE(w.container.IsMap()) << "no cloudaware_exporter container";
  EXPECT_EQ(w.deployment["spec"]["replicas"].as<int>(), 1)
      << "every replica would spend the org's API allocation";
  EXPECT_TRUE(
      LabelsMatch(w.deployment["spec"]["selector"]["matchLabels"],
                  w.deployment["spec"]["template"]["metadata"]["labels"]));
  EXPECT_EQ(ConfigFileArg(w.container["args"]), kConfigFile);

  bool named_port = false;
  for (const YAML::Node& p : w.container["ports"]) {
    named_port |= Str(p["name"]) == "http-metrics" &&
                  p["containerPort"].as<int>() == kExporterPort;
  }
  EXPECT_TRUE(named_port) << "container port " << kExporterPort
                          << " named http-metrics";

  const YAML::Node& live = w.container["livenessProbe"]["httpGet"];
  EXPECT_EQ(Str(live["path"]), "/-/healthy");
  EXPECT_EQ(ContainerPort(w.container, live["port"]), kExporterPort);
  const YAML::Node& ready = w.container["readinessProbe"]["httpGet"];
  EXPECT_EQ(Str(ready["path"]), "/-/ready");
  EXPECT_EQ(ContainerPort(w.container, ready["port"]), kExporterPort);

  const YAML::Node& resources = w.container["resources"];
  EXPECT_EQ(Str(resources["requests"]["cpu"]), "50m");
  EXPECT_EQ(Str(resources["requests"]["memory"]), "64Mi");
  EXPECT_EQ(Str(resources["limits"]["memory"]), "256Mi");
}

TEST_F(KubernetesTest, DeploymentRunsLockedDown) {
  Workload w = LoadWorkload();
  ASSERT_TRUE(w.container.IsMap());
  EXPECT_EQ(Security(w, "runAsNonRoot"), "true");
  EXPECT_EQ(Security(w, "runAsUser"), "65532");
  EXPECT_EQ(Str(w.container["securityContext"]["readOnlyRootFilesystem"]),
            "true");
  EXPECT_EQ(Str(w.container["securityContext"]["allowPrivilegeEscalation"]),
            "false");
  std::set<std::string> dropped;
  for (const YAML::Node& c :
       w.container["securityContext"]["capabilities"]["drop"]) {
    dropped.insert(Str(c));
  }
  EXPECT_TRUE(dropped.count("ALL"));
  EXPECT_FALSE(
      w.container["securityContext"]["capabilities"]["add"].IsDefined());
  std::string seccomp =
      Str(w.container["securityContext"]["seccompProfile"]["type"]);
  if (seccomp.empty())
    seccomp = Str(w.pod["securityContext"]["seccompProfile"]["type"]);
  EXPECT_EQ(seccomp, "RuntimeDefault");
}

TEST_F(KubernetesTest, DeploymentMountsTheConfigMapAndTheSecretAsFiles) {
  Workload w = LoadWorkload();
  ASSERT_TRUE(w.container.IsMap());
  auto configmaps = Manifests("configmap.yaml", "ConfigMap");
  auto secrets = Manifests("secret.example.yaml", "Secret");
  ASSERT_EQ(configmaps.size(), 1u);
  ASSERT_EQ(secrets.size(), 1u);
  const std::string secret_name = Str(secrets[0]["metadata"]["name"]);

  // The ConfigMap, holding the file --config.file names.
  fs::path config_file = ConfigFileArg(w.container["args"]);
  // Two ConfigMaps: the config and, under it, the query packs.
  auto config_mounts = MountsOfType(w, "configMap");
  ASSERT_EQ(config_mounts.size(), 2u);
  if (Str(config_mounts[0].volume["configMap"]["name"]) !=
      Str(configmaps[0]["metadata"]["name"])) {
    std::swap(config_mounts[0], config_mounts[1]);
  }
  EXPECT_EQ(Str(config_mounts[0].volume["configMap"]["name"]),
            Str(configmaps[0]["metadata"]["name"]));
  EXPECT_EQ(config_mounts[0].path, config_file.parent_path().string());
  EXPECT_TRUE(config_mounts[0].read_only);
  EXPECT_TRUE(
      configmaps[0]["data"][config_file.filename().string()].IsDefined())
      << "the ConfigMap has no key " << config_file.filename();

  // The Secret, as read-only files; the config reads the client secret there.
  auto secret_mounts = MountsOfType(w, "secret");
  ASSERT_EQ(secret_mounts.size(), 1u);
  EXPECT_EQ(Str(secret_mounts[0].volume["secret"]["secretName"]), secret_name);
  EXPECT_TRUE(secret_mounts[0].read_only);
  YAML::Node config = YAML::Load(Str(configmaps[0]["data"]["config.yml"]));
  fs::path secret_file = Str(config["cloudaware"]["client_secret_file"]);
  EXPECT_EQ(secret_file.parent_path().string(), secret_mounts[0].path);
  EXPECT_TRUE(
      secrets[0]["stringData"][secret_file.filename().string()].IsDefined())
      << "the example Secret has no key " << secret_file.filename();
  EXPECT_FALSE(config["cloudaware"]["client_secret"].IsDefined())
      << "the secret belongs in a file, not in the ConfigMap";

  // Every ${VAR} the config uses comes from the Deployment; the client id
  // from the same Secret.
  std::map<std::string, YAML::Node> env;
  for (const YAML::Node& e : w.container["env"]) env[Str(e["name"])] = e;
  for (const std::string& name :
       EnvReferences(Str(configmaps[0]["data"]["config.yml"]))) {
    EXPECT_TRUE(env.count(name)) << "${" << name << "} is not set";
  }
  ASSERT_TRUE(env.count("CLOUDAWARE_CLIENT_ID"));
  const YAML::Node& ref =
      env["CLOUDAWARE_CLIENT_ID"]["valueFrom"]["secretKeyRef"];
  EXPECT_EQ(Str(ref["name"]), secret_name);
  EXPECT_TRUE(secrets[0]["stringData"][Str(ref["key"])].IsDefined());
}

TEST_F(KubernetesTest, ExampleSecretHoldsPlaceholdersOnly) {
  auto secrets = Manifests("secret.example.yaml", "Secret");
  ASSERT_EQ(secrets.size(), 1u);
  ASSERT_TRUE(secrets[0]["stringData"].IsMap());
  for (const char* key : {"client_id", "client_secret"}) {
    EXPECT_NE(Str(secrets[0]["stringData"][key]).find("REPLACE"),
              std::string::npos)
        << key;
  }
}

// The PrometheusRule carries exactly the groups of deploy/prometheus, which
// the promtool tests and the end-to-end test check.
TEST_F(KubernetesTest, PrometheusRuleMatchesTheRuleFiles) {
  YAML::Node rule =
      YAML::LoadFile(Project("deploy/kubernetes/prometheusrule.yaml").string());
  EXPECT_EQ(Str(rule["kind"]), "PrometheusRule");
  EXPECT_EQ(Str(rule["apiVersion"]), "monitoring.coreos.com/v1");
  std::vector<std::string> files;
  for (const auto& entry :
       fs::directory_iterator(Project("deploy/prometheus"))) {
    std::string name = entry.path().filename().string();
    if (name.rfind("cloudaware-", 0) == 0 &&
        entry.path().extension() == ".yml") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 2u);
  YAML::Node expected(YAML::NodeType::Sequence);
  for (const std::string& f : files) {
    for (const auto& group : YAML::LoadFile(f)["groups"])
      expected.push_back(group);
  }
  EXPECT_EQ(YAML::Dump(rule["spec"]["groups"]), YAML::Dump(expected))
      << "run deploy/kubernetes/gen-prometheusrule.sh";
}

TEST_F(KubernetesTest, ServiceAndServiceMonitorAgreeOnThePort) {
  Workload w = LoadWorkload();
  auto services = Manifests("service.yaml", "Service");
  auto monitors = Manifests("servicemonitor.yaml", "ServiceMonitor");
  ASSERT_EQ(services.size(), 1u);
  ASSERT_EQ(monitors.size(), 1u);
  const YAML::Node& service = services[0];
  const YAML::Node& monitor = monitors[0];

  EXPECT_EQ(Str(service["spec"]["type"]), "ClusterIP");
  EXPECT_TRUE(
      LabelsMatch(service["spec"]["selector"],
                  w.deployment["spec"]["template"]["metadata"]["labels"]))
      << "the Service selects no exporter pod";
  ASSERT_EQ(service["spec"]["ports"].size(), 1u);
  const YAML::Node& port = service["spec"]["ports"][0];
  EXPECT_EQ(Str(port["name"]), "http-metrics");
  EXPECT_EQ(port["port"].as<int>(), kExporterPort);
  EXPECT_EQ(ContainerPort(w.container, port["targetPort"]), kExporterPort);

  EXPECT_EQ(Str(monitor["apiVersion"]), "monitoring.coreos.com/v1");
  EXPECT_TRUE(LabelsMatch(monitor["spec"]["selector"]["matchLabels"],
                          service["metadata"]["labels"]))
      << "the ServiceMonitor selects no Service";
  ASSERT_EQ(monitor["spec"]["endpoints"].size(), 1u);
  const YAML::Node& endpoint = monitor["spec"]["endpoints"][0];
  EXPECT_EQ(Str(endpoint["port"]), Str(port["name"]));
  EXPECT_EQ(Str(endpoint["interval"]), "60s");
  EXPECT_EQ(Str(endpoint["scrapeTimeout"]), "30s");
  if (endpoint["path"].IsDefined()) {
    EXPECT_EQ(Str(endpoint["path"]), "/metrics");
  }
}

TEST_F(KubernetesTest, ConfigMapConfigPassesConfigCheck) {
  auto configmaps = Manifests("configmap.yaml", "ConfigMap");
  ASSERT_EQ(configmaps.size(), 1u);
  std::string text = Str(configmaps[0]["data"]["config.yml"]);
  YAML::Node config = YAML::Load(text);
  EXPECT_EQ(YAML::Dump(config["query_files"]),
            YAML::Dump(ExampleConfig()["query_files"]))
      << "the ConfigMap's query files differ from deploy/examples";
  EXPECT_FALSE(config["queries"].IsDefined());

  // The packs, where the Deployment mounts them relative to config.yml.
  fs::create_directories(dir_ / "packs");
  for (const auto& [name, pack] : ExamplePacks()) {
    WriteFile(dir_ / "packs" / name, pack);
  }

  // The secret file is where the Secret will be mounted; here, a stand-in.
  std::string secret_path = Str(config["cloudaware"]["client_secret_file"]);
  ASSERT_FALSE(secret_path.empty());
  size_t at = text.find(secret_path);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(text.find(secret_path, at + 1), std::string::npos);
  WriteFile(dir_ / "client_secret", "test-secret\n");
  text.replace(at, secret_path.size(), (dir_ / "client_secret").string());
  WriteFile(dir_ / "config.yml", text);

  std::map<std::string, std::string> env;
  for (const YAML::Node& e : LoadWorkload().container["env"]) {
    env[Str(e["name"])] = "test-value";
  }
  auto [code, output] = ConfigCheck(dir_ / "config.yml", env);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("24 queries"), std::string::npos) << output;
}

// The packs ConfigMap holds deploy/examples/packs byte for byte, mounted
// where config.yml's query_files look.
TEST_F(KubernetesTest, PacksConfigMapHoldsTheExamplePacks) {
  auto configmaps = Manifests("packs-configmap.yaml", "ConfigMap");
  ASSERT_EQ(configmaps.size(), 1u);
  const YAML::Node& data = configmaps[0]["data"];
  auto packs = ExamplePacks();
  ASSERT_EQ(data.size(), packs.size());
  for (const auto& [name, pack] : packs) {
    EXPECT_EQ(Str(data[name]), pack)
        << name << ": run deploy/kubernetes/gen-packs-configmap.sh";
  }

  std::string mounted_at;
  for (const VolumeMount& m : MountsOfType(LoadWorkload(), "configMap")) {
    if (Str(m.volume["configMap"]["name"]) ==
        Str(configmaps[0]["metadata"]["name"])) {
      mounted_at = m.path;
      EXPECT_TRUE(m.read_only);
    }
  }
  EXPECT_EQ(mounted_at, "/etc/cloudaware_exporter/packs");
}

// --- docker-compose.yml ----------------------------------------------------

TEST_F(ComposeTest, RunsTheFourServicesFromTheDockerfile) {
  YAML::Node services = Compose()["services"];
  for (const char* name : {"simulator", "exporter", "prometheus", "grafana"}) {
    EXPECT_TRUE(services[name].IsMap()) << name;
  }
  Dockerfile dockerfile;
  for (const char* name : {"simulator", "exporter"}) {
    std::string target = Str(services[name]["build"]["target"]);
    EXPECT_EQ(target, name);
    EXPECT_NE(dockerfile.Find(target), nullptr) << target;
    std::string context = Str(services[name]["build"]["context"]);
    EXPECT_TRUE(fs::exists(Project(context) / "Dockerfile")) << context;
  }
  EXPECT_TRUE(DependsOn(services["exporter"]).count("simulator"));
  EXPECT_TRUE(DependsOn(services["prometheus"]).count("exporter"));
  EXPECT_TRUE(DependsOn(services["grafana"]).count("prometheus"));
}

TEST_F(ComposeTest, ExporterReachesTheSimulatorWithItsCredentials) {
  YAML::Node services = Compose()["services"];
  const YAML::Node& exporter = services["exporter"];

  // The config goes where the image's entrypoint looks for it.
  auto config_mount = MountAt(exporter, kConfigFile);
  ASSERT_TRUE(config_mount) << "nothing mounted at " << kConfigFile;
  EXPECT_TRUE(config_mount->read_only);
  ASSERT_TRUE(fs::is_regular_file(config_mount->source));
  YAML::Node config = YAML::LoadFile(config_mount->source.string());

  // The secret file: mounted where the config, read in the container, finds
  // it, and the same file the config names when checked here.
  std::string secret = Str(config["cloudaware"]["client_secret_file"]);
  ASSERT_FALSE(secret.empty());
  fs::path in_container = fs::path(secret).is_absolute()
                              ? fs::path(secret)
                              : fs::path(kConfigFile).parent_path() / secret;
  auto secret_mount = MountAt(exporter, in_container.string());
  ASSERT_TRUE(secret_mount) << "nothing mounted at " << in_container;
  EXPECT_TRUE(secret_mount->read_only);
  if (!fs::path(secret).is_absolute()) {
    EXPECT_TRUE(fs::equivalent(secret_mount->source,
                               config_mount->source.parent_path() / secret));
  }

  // The simulator accepts exactly those credentials, on the URL's port.
  auto args = Command(services["simulator"]);
  std::string listen = FlagValue(args, "--listen");
  ASSERT_NE(listen.find(':'), std::string::npos) << listen;
  EXPECT_EQ(listen.substr(0, listen.rfind(':')), "0.0.0.0")
      << "other containers must reach the simulator";
  EXPECT_EQ(Str(config["cloudaware"]["url"]),
            "http://simulator:" + listen.substr(listen.rfind(':') + 1))
      << "the simulator serves plain HTTP (no --tls-cert)";
  EXPECT_EQ(FlagValue(args, "--tls-cert"), "");
  EXPECT_EQ(Str(config["cloudaware"]["client_id"]),
            FlagValue(args, "--client-id"));
  EXPECT_EQ(Trim(ReadFile(secret_mount->source)),
            FlagValue(args, "--client-secret"));
}

TEST_F(ComposeTest, ExporterConfigPassesConfigCheck) {
  fs::path config = Project("deploy/compose/cloudaware_exporter.yml");
  EXPECT_EQ(YAML::Dump(YAML::LoadFile(config.string())["query_files"]),
            YAML::Dump(ExampleConfig()["query_files"]))
      << "the compose config's query files differ from deploy/examples";

  // In the container the packs are mounted next to the config.
  const YAML::Node exporter = Compose()["services"]["exporter"];
  fs::path in_container = fs::path(kConfigFile).parent_path() / "packs";
  auto packs_mount = MountAt(exporter, in_container.string());
  ASSERT_TRUE(packs_mount) << "nothing mounted at " << in_container;
  EXPECT_TRUE(packs_mount->read_only);
  EXPECT_TRUE(
      fs::equivalent(packs_mount->source, Project("deploy/examples/packs")));

  fs::copy_file(config, dir_ / "config.yml");
  fs::copy_file(config.parent_path() / "client_secret", dir_ / "client_secret");
  fs::create_directory_symlink(packs_mount->source, dir_ / "packs");
  auto [code, output] = ConfigCheck(dir_ / "config.yml");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("24 queries"), std::string::npos) << output;
}

TEST_F(ComposeTest, PrometheusScrapesTheExporterAndLoadsTheRules) {
  YAML::Node services = Compose()["services"];
  const YAML::Node& prometheus = services["prometheus"];
  auto config_mount = MountAt(prometheus, "/etc/prometheus/prometheus.yml");
  ASSERT_TRUE(config_mount);
  EXPECT_TRUE(fs::equivalent(config_mount->source,
                             Project("deploy/compose/prometheus.yml")));
  YAML::Node config = YAML::LoadFile(config_mount->source.string());

  // Every rule_files glob, applied to deploy/prometheus, finds rule files
  // and nothing else (prometheus.example.yml sits there too).
  auto rules_mount = MountOf(prometheus, Project("deploy/prometheus"));
  ASSERT_TRUE(rules_mount) << "deploy/prometheus is not mounted";
  ASSERT_GT(config["rule_files"].size(), 0u);
  std::set<std::string> loaded;
  for (const YAML::Node& glob : config["rule_files"]) {
    std::string pattern = Str(glob);
    ASSERT_EQ(pattern.rfind(rules_mount->target + "/", 0), 0u) << pattern;
    pattern = pattern.substr(rules_mount->target.size() + 1);
    for (const auto& entry :
         fs::directory_iterator(Project("deploy/prometheus"))) {
      std::string name = entry.path().filename().string();
      if (fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) != 0) continue;
      loaded.insert(name);
      EXPECT_TRUE(YAML::LoadFile(entry.path().string())["groups"].IsSequence())
          << name << " is not a rule file";
    }
  }
  EXPECT_FALSE(loaded.empty()) << "no rule file matches rule_files";
  EXPECT_FALSE(loaded.count("prometheus.example.yml"));

  // The job the rules expect, on the exporter service, every 15 s.
  bool scraped = false;
  for (const YAML::Node& job : config["scrape_configs"]) {
    if (Str(job["job_name"]) != "cloudaware") continue;
    std::string interval = job["scrape_interval"].IsDefined()
                               ? Str(job["scrape_interval"])
                               : Str(config["global"]["scrape_interval"]);
    EXPECT_EQ(interval, "15s");
    for (const YAML::Node& sc : job["static_configs"]) {
      for (const YAML::Node& t : sc["targets"]) {
        scraped |= Str(t) == "exporter:" + std::to_string(kExporterPort);
      }
    }
  }
  EXPECT_TRUE(scraped) << "no job cloudaware scraping exporter:"
                       << kExporterPort;
}

TEST_F(ComposeTest, PrometheusConfigsPassPromtool) {
  auto promtool = Which("promtool");
  ASSERT_TRUE(promtool) << "promtool (Debian package prometheus) not found";
  for (const char* file : {"deploy/compose/prometheus.yml",
                           "deploy/prometheus/prometheus.example.yml"}) {
    auto [code, output] =
        Run({promtool->string(), "check", "config", Project(file).string()});
    EXPECT_EQ(code, 0) << file << "\n" << output;
  }
}

TEST_F(ComposeTest, ExampleScrapeConfigUsesTheJobTheRulesExpect) {
  YAML::Node config = YAML::LoadFile(
      Project("deploy/prometheus/prometheus.example.yml").string());
  ASSERT_EQ(config["scrape_configs"].size(), 1u);
  const YAML::Node& job = config["scrape_configs"][0];
  EXPECT_EQ(Str(job["job_name"]), "cloudaware");
  EXPECT_EQ(Str(job["scrape_interval"]), "60s");
  EXPECT_LE(Seconds(Str(job["scrape_timeout"])),
            Seconds(Str(job["scrape_interval"])));
  EXPECT_EQ(job["static_configs"][0]["targets"].size(), 1u);
}

TEST_F(ComposeTest, GrafanaIsProvisionedWithTheDashboards) {
  YAML::Node services = Compose()["services"];
  const YAML::Node& grafana = services["grafana"];

  auto dashboards_provider =
      MountOf(grafana, Project("dashboards/provisioning/dashboards.yml"));
  ASSERT_TRUE(dashboards_provider);
  EXPECT_EQ(fs::path(dashboards_provider->target).parent_path().string(),
            "/etc/grafana/provisioning/dashboards");
  auto datasource =
      MountOf(grafana, Project("dashboards/provisioning/datasource.yml"));
  ASSERT_TRUE(datasource);
  EXPECT_EQ(fs::path(datasource->target).parent_path().string(),
            "/etc/grafana/provisioning/datasources");

  // The provider's path is where the dashboards directory is mounted.
  YAML::Node provider = YAML::LoadFile(dashboards_provider->source.string());
  ASSERT_EQ(provider["providers"].size(), 1u);
  std::string path = Str(provider["providers"][0]["options"]["path"]);
  auto dashboards = MountAt(grafana, path);
  ASSERT_TRUE(dashboards) << "nothing mounted at " << path;
  ASSERT_TRUE(fs::is_directory(dashboards->source));
  int json = 0;
  for (const auto& entry : fs::directory_iterator(dashboards->source)) {
    json += entry.path().extension() == ".json";
  }
  EXPECT_GT(json, 0) << "no dashboards in " << dashboards->source;

  // The datasource is the prometheus service.
  YAML::Node sources = YAML::LoadFile(datasource->source.string());
  ASSERT_EQ(sources["datasources"].size(), 1u);
  EXPECT_EQ(Str(sources["datasources"][0]["url"]), "http://prometheus:9090");

  // The home dashboard, if set, is one of the mounted files.
  std::string home =
      Str(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]);
  if (!home.empty()) {
    ASSERT_EQ(home.rfind(path + "/", 0), 0u) << home;
    EXPECT_TRUE(
        fs::is_regular_file(dashboards->source / home.substr(path.size() + 1)))
        << home;
  }
}

// --- systemd ---------------------------------------------------------------

TEST_F(SystemdTest, UnitIsHardened) {
  auto unit = ParseUnit(
      ReadFile(Project("deploy/systemd/cloudaware_exporter.service")));
  auto value = [&](const std::string& key) {
    auto it = unit.find("Service." + key);
    return it == unit.end() ? std::string("<unset>") : it->second.back();
  };
  const std::map<std::string, std::string> expected = {
      {"NoNewPrivileges", "yes"},
      {"ProtectSystem", "strict"},
      {"ProtectHome", "yes"},
      {"PrivateTmp", "yes"},
      {"PrivateDevices", "yes"},
      {"ProtectKernelTunables", "yes"},
      {"ProtectKernelModules", "yes"},
      {"ProtectKernelLogs", "yes"},
      {"ProtectControlGroups", "yes"},
      {"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
      {"RestrictNamespaces", "yes"},
      {"LockPersonality", "yes"},
      {"MemoryDenyWriteExecute", "yes"},
      {"CapabilityBoundingSet", ""},
      {"DynamicUser", "yes"},
      {"User", "cloudaware_exporter"},
      {"Restart", "on-failure"},
  };
  for (const auto& [key, want] : expected) {
    EXPECT_EQ(value(key), want) << key;
  }
  const auto& filters = unit["Service.SystemCallFilter"];
  EXPECT_NE(std::find(filters.begin(), filters.end(), "@system-service"),
            filters.end());
  EXPECT_TRUE(std::regex_match(
      value("ExecReload"), std::regex(R"(\S*kill -(HUP|SIGHUP) \$MAINPID)")))
      << value("ExecReload");
  auto exec = Words(value("ExecStart"));
  ASSERT_FALSE(exec.empty());
  EXPECT_EQ(exec[0], kExporterPath);
  EXPECT_NE(std::find(exec.begin(), exec.end(),
                      std::string("--config.file=") + kConfigFile),
            exec.end());

  // The credential is loaded from a root-only file and named to the example
  // config through CLOUDAWARE_CLIENT_SECRET_FILE (%d: $CREDENTIALS_DIRECTORY).
  std::smatch m;
  std::string credential = value("LoadCredential");
  ASSERT_TRUE(std::regex_match(credential, m, std::regex(R"((\w+):(/\S+))")))
      << credential;
  EXPECT_EQ(m[2].str(), "/etc/cloudaware_exporter/client_secret");
  const auto& env = unit["Service.Environment"];
  EXPECT_NE(std::find(env.begin(), env.end(),
                      "CLOUDAWARE_CLIENT_SECRET_FILE=%d/" + m[1].str()),
            env.end());
}

TEST_F(SystemdTest, UnitPassesSystemdAnalyzeVerify) {
  auto analyze = Which("systemd-analyze");
  if (!analyze) GTEST_SKIP() << "systemd-analyze is not installed";
  // verify wants ExecStart to exist: point it at the built binary.
  std::string unit =
      ReadFile(Project("deploy/systemd/cloudaware_exporter.service"));
  size_t at = unit.find(std::string("ExecStart=") + kExporterPath);
  ASSERT_NE(at, std::string::npos);
  unit.replace(at + 10, std::string(kExporterPath).size(), EXPORTER_BINARY);
  WriteFile(dir_ / "cloudaware_exporter.service", unit);
  auto [code, output] = Run({analyze->string(), "verify",
                             (dir_ / "cloudaware_exporter.service").string()});
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(output.find("cloudaware_exporter.service:"), std::string::npos)
      << output;
}

// --- Dockerfile ------------------------------------------------------------

TEST_F(DockerfileTest, BuildsTheExporterAndTheSimulatorOnDebian) {
  Dockerfile d;
  ASSERT_FALSE(d.stages().empty());
  for (const Stage& s : d.stages()) {
    std::string root = d.RootImage(s);
    EXPECT_TRUE(root == "debian:bookworm" || root == "debian:bookworm-slim")
        << s.name << " starts from " << root;
  }
  EXPECT_EQ(d.stages().back().name, "exporter")
      << "the exporter must be the default target";

  const std::map<std::string, std::string> binaries = {
      {"exporter", "cloudaware_exporter"}, {"simulator", "cmdb_simulator"}};
  for (const auto& [target, binary] : binaries) {
    const Stage* final_stage = d.Find(target);
    ASSERT_NE(final_stage, nullptr) << target;
    // Runtime packages only: no compiler, no -dev packages.
    EXPECT_TRUE(d.AnyRunMatches(*final_stage, R"(install-deps\.sh --runtime)"))
        << target;
    EXPECT_FALSE(d.AnyRunMatches(
        *final_stage, R"(install-deps\.sh( --build)?\s*(&&|;|$)|cmake|g\+\+)"))
        << target << " carries build tools";
    const Stage* build = d.CopiedFrom(*final_stage, "/usr/local/bin/" + binary);
    ASSERT_NE(build, nullptr) << target << ": no COPY --from of " << binary;
    EXPECT_TRUE(d.AnyRunMatches(*build, R"(install-deps\.sh --build)"))
        << build->name;
    EXPECT_TRUE(d.AnyRunMatches(*build, "--target[ a-z_]*" + binary))
        << build->name << " does not build " << binary;

    auto user = d.Last(*final_stage, "USER");
    ASSERT_TRUE(user) << target << " runs as root";
    std::string uid = Split(*user, ':')[0];
    EXPECT_NE(uid, "root");
    EXPECT_NE(uid, "0");
  }

  // Everything the build copies from the context exists.
  for (const Stage& s : d.stages()) {
    for (const Instruction& i : s.body) {
      auto words = Words(i.args);
      if (i.op != "COPY" || words.empty() ||
          words[0].rfind("--from=", 0) == 0) {
        continue;
      }
      for (size_t k = 0; k + 1 < words.size(); ++k) {
        EXPECT_TRUE(fs::exists(Project(words[k]))) << "COPY " << words[k];
      }
    }
  }
}

TEST_F(DockerfileTest, ExporterImageRunsAsTheKubernetesUserOnPort9866) {
  Dockerfile d;
  const Stage* exporter = d.Find("exporter");
  ASSERT_NE(exporter, nullptr);
  auto user = d.Last(*exporter, "USER");
  ASSERT_TRUE(user);
  EXPECT_EQ(Split(*user, ':')[0], Security(LoadWorkload(), "runAsUser"))
      << "the image's user and the Deployment's runAsUser differ";

  auto expose = d.Last(*exporter, "EXPOSE");
  ASSERT_TRUE(expose);
  auto ports = Words(*expose);
  EXPECT_NE(
      std::find(ports.begin(), ports.end(), std::to_string(kExporterPort)),
      ports.end());

  auto entrypoint = d.Last(*exporter, "ENTRYPOINT");
  ASSERT_TRUE(entrypoint);
  auto argv = ExecForm(*entrypoint);
  ASSERT_FALSE(argv.empty()) << "ENTRYPOINT is not in exec form";
  EXPECT_EQ(argv[0], kExporterPath);
  EXPECT_EQ(ConfigFileArg(YAML::Load(*entrypoint)), kConfigFile);

  auto healthcheck = d.Last(*exporter, "HEALTHCHECK");
  ASSERT_TRUE(healthcheck);
  EXPECT_NE(healthcheck->find("/-/healthy"), std::string::npos);
}

// The HEALTHCHECK command, run against the real exporter: it passes while the
// exporter serves /-/healthy and fails on another status or no listener.
TEST_F(DockerfileTest, HealthcheckCommandChecksTheExporter) {
  Dockerfile d;
  const Stage* exporter = d.Find("exporter");
  ASSERT_NE(exporter, nullptr);
  auto healthcheck = d.Last(*exporter, "HEALTHCHECK");
  ASSERT_TRUE(healthcheck);
  size_t cmd = healthcheck->find("CMD [");
  ASSERT_NE(cmd, std::string::npos) << "HEALTHCHECK is not CMD [exec form]";
  std::vector<std::string> argv = ExecForm(healthcheck->substr(cmd + 4));
  ASSERT_FALSE(argv.empty());
  auto program = Which(argv[0]);
  ASSERT_TRUE(program) << argv[0];
  argv[0] = program->string();

  int port = FreePort();
  auto with = [&](const std::string& path) {
    std::vector<std::string> out;
    for (std::string a : argv) {
      a = std::regex_replace(a, std::regex(std::to_string(kExporterPort)),
                             std::to_string(port));
      a = std::regex_replace(a, std::regex("/-/healthy"), path);
      out.push_back(a);
    }
    return out;
  };
  bool names_port = false;
  for (const std::string& a : argv) {
    names_port |= a.find(std::to_string(kExporterPort)) != std::string::npos;
  }
  ASSERT_TRUE(names_port) << "the health check does not use port "
                          << kExporterPort;

  WriteFile(dir_ / "secret", "health-check-secret\n");
  WriteFile(dir_ / "config.yml",
            "cloudaware:\n  url: http://127.0.0.1:1\n  client_id: id\n"
            "  client_secret_file: secret\n"
            "queries:\n  - name: q\n    soql: SELECT COUNT() FROM A__c\n"
            "    metrics: [{name: cloudaware_a, help: A.}]\n");
  {
    Process server(
        {EXPORTER_BINARY, "--config.file=" + (dir_ / "config.yml").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(port)},
        dir_, "exporter-");
    int code = -1;
    for (int i = 0; i < 100 && code != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      code = Run(with("/-/healthy")).first;
    }
    EXPECT_EQ(code, 0) << server.err();
    EXPECT_NE(Run(with("/-/no-such-page")).first, 0)
        << "the health check ignores the status code";
    server.Signal(SIGTERM);
    EXPECT_TRUE(server.Wait(std::chrono::seconds(10)));
  }
  EXPECT_NE(Run(with("/-/healthy")).first, 0)
      << "the health check passes with no exporter";
}

// The context has no .git: the revision reaches the build as an argument,
// and the exporter image carries it as a label.
TEST_F(DockerfileTest, RevisionComesAsABuildArgument) {
  Dockerfile d;
  const Stage* exporter = d.Find("exporter");
  ASSERT_NE(exporter, nullptr);
  const Stage* build =
      d.CopiedFrom(*exporter, "/usr/local/bin/cloudaware_exporter");
  ASSERT_NE(build, nullptr);
  auto has = [](const Stage& s, const std::string& op,
                const std::string& pattern) {
    std::regex re(pattern);
    for (const Instruction& i : s.body) {
      if (i.op == op && std::regex_search(i.args, re)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(*build, "ARG", "^CLOUDAWARE_REVISION\\b"));
  EXPECT_TRUE(has(*build, "RUN",
                  R"(-DCLOUDAWARE_REVISION="?\$\{?CLOUDAWARE_REVISION\b)"));
  EXPECT_TRUE(has(*exporter, "ARG", "^CLOUDAWARE_REVISION\\b"));
  EXPECT_TRUE(
      has(*exporter, "LABEL",
          R"(org\.opencontainers\.image\.revision="\$\{CLOUDAWARE_REVISION)"));
  // CMake takes the argument instead of asking git.
  std::string cmake = ReadFile(Project("exporter/CMakeLists.txt"));
  EXPECT_TRUE(std::regex_search(
      cmake, std::regex(R"(if\(NOT CLOUDAWARE_REVISION\)\s*execute_process)")));
}

TEST_F(DockerfileTest, DockerignoreKeepsBuildTreesOut) {
  std::set<std::string> patterns;
  for (const std::string& line :
       Split(ReadFile(Project(".dockerignore")), '\n')) {
    patterns.insert(Trim(line));
  }
  for (const char* p : {"build*/", ".demo/", ".git"}) {
    EXPECT_TRUE(patterns.count(p)) << p;
  }
}

// --- Alertmanager ----------------------------------------------------------

// The example groups per alert, org and exporter, sends resolved
// notifications, and routes each severity the rules use.
TEST_F(DeployTest, AlertmanagerExampleRoutesEverySeverityOfTheRules) {
  YAML::Node am =
      YAML::LoadFile(Project("deploy/alertmanager/alertmanager.yml").string());
  std::set<std::string> group_by;
  for (const YAML::Node& l : am["route"]["group_by"]) group_by.insert(Str(l));
  for (const char* label : {"alertname", "org", "instance"})
    EXPECT_TRUE(group_by.count(label)) << label;
  std::set<std::string> receivers;
  for (const YAML::Node& r : am["receivers"]) {
    receivers.insert(Str(r["name"]));
    for (const YAML::Node& w : r["webhook_configs"])
      EXPECT_TRUE(w["send_resolved"].as<bool>(false)) << Str(r["name"]);
  }
  // The receiver for each severity: a route matching it, or the default.
  auto receiver_for = [&](const std::string& severity) {
    for (const YAML::Node& route : am["route"]["routes"]) {
      for (const YAML::Node& m : route["matchers"]) {
        std::string text = Str(m);
        text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
        if (text == "severity=\"" + severity + "\"")
          return Str(route["receiver"]);
      }
    }
    return Str(am["route"]["receiver"]);
  };
  std::set<std::string> severities;
  YAML::Node rules = YAML::LoadFile(
      Project("deploy/prometheus/cloudaware-alerts.yml").string());
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      if (rule["alert"]) severities.insert(Str(rule["labels"]["severity"]));
    }
  }
  EXPECT_EQ(severities, (std::set<std::string>{"critical", "warning"}));
  for (const std::string& severity : severities) {
    std::string receiver = receiver_for(severity);
    EXPECT_TRUE(receivers.count(receiver)) << severity << " -> " << receiver;
    EXPECT_NE(receiver.find(severity), std::string::npos)
        << severity << " goes to " << receiver;
  }
}

// The series of an exporter with several orgs carry an `org` label, except
// the process-wide ones.
bool CarriesOrg(const std::string& metric) {
  return metric.rfind("process_", 0) != 0 &&
         metric != "cloudaware_exporter_build_info";
}

// Every expression of a panel or a query variable, by where it is.
void CollectExprs(const YAML::Node& panels, const std::string& where,
                  std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& panel : panels) {
    if (panel["panels"]) CollectExprs(panel["panels"], where, out);
    for (const auto& target : panel["targets"]) {
      if (target["expr"])
        out.emplace_back(where + " / " + Str(panel["title"]),
                         Str(target["expr"]));
    }
  }
}

// With several orgs, the dashboards choose among them; with one, whose series
// have no org label, "All" (.*) still matches everything.
TEST_F(DashboardTest, EveryQueryFiltersOnTheOrg) {
  int dashboards = 0;
  for (const auto& entry : fs::directory_iterator(Project("dashboards"))) {
    if (entry.path().extension() != ".json") continue;
    ++dashboards;
    const std::string name = entry.path().filename().string();
    // JSON is YAML.
    YAML::Node dashboard = YAML::LoadFile(entry.path().string());
    std::vector<std::pair<std::string, std::string>> exprs;
    CollectExprs(dashboard["panels"], name, exprs);
    bool has_org = false;
    for (const auto& var : dashboard["templating"]["list"]) {
      if (Str(var["type"]) == "query")
        exprs.emplace_back(name + " / $" + Str(var["name"]), Str(var["query"]));
      if (Str(var["name"]) != "org") continue;
      has_org = true;
      EXPECT_EQ(
          Str(var["query"]),
          R"(label_values(cloudaware_up{job=~"$job", instance=~"$instance"}, org))")
          << name;
      EXPECT_EQ(Str(var["multi"]), "true") << name;
      EXPECT_EQ(Str(var["includeAll"]), "true") << name;
      EXPECT_EQ(Str(var["allValue"]), ".*") << name;
    }
    EXPECT_TRUE(has_org) << name << " has no org variable";
    ASSERT_GE(exprs.size(), 20u) << name;
    const std::regex selector(R"(([\w:]*)\{([^}]*)\})");
    int filtered = 0;
    for (const auto& [where, expr] : exprs) {
      for (std::sregex_iterator it(expr.begin(), expr.end(), selector), end;
           it != end; ++it) {
        const std::string metric = (*it)[1], matchers = (*it)[2];
        // Every selector of a panel filters on the instance (and the org
        // variable's own query filters on job and instance only).
        if (matchers.find(R"(instance=~"$instance")") == std::string::npos ||
            where == name + " / $org")
          continue;
        const bool org = matchers.find(R"(org=~"$org")") != std::string::npos;
        EXPECT_EQ(org, CarriesOrg(metric)) << where << ": " << (*it)[0];
        filtered += org;
      }
    }
    EXPECT_GE(filtered, 20) << name;
  }
  EXPECT_EQ(dashboards, 2);
}

// Two orgs in one exporter share job and instance: aggregations and joins
// that keep the instance keep the org too, and the summaries name it.
TEST_F(RulesTest, AggregationsJoinsAndSummariesKeepTheOrg) {
  int clauses = 0, summaries = 0;
  const std::regex clause(R"(\b(by|on|without|ignoring)\s*\(([^)]*)\))");
  for (const char* file : {"deploy/prometheus/cloudaware-alerts.yml",
                           "deploy/prometheus/cloudaware-recording.yml"}) {
    for (const auto& group : YAML::LoadFile(Project(file).string())["groups"]) {
      for (const auto& rule : group["rules"]) {
        const std::string name =
            Str(rule["alert"] ? rule["alert"] : rule["record"]);
        const std::string expr = Str(rule["expr"]);
        for (std::sregex_iterator it(expr.begin(), expr.end(), clause), end;
             it != end; ++it) {
          std::set<std::string> labels;
          for (const std::string& l : Split((*it)[2], ','))
            labels.insert(Trim(l));
          const std::string kind = (*it)[1];
          if (kind == "without" || kind == "ignoring") {
            EXPECT_FALSE(labels.count("org")) << name << ": " << (*it)[0];
          } else if (labels.count("instance")) {
            EXPECT_TRUE(labels.count("org")) << name << ": " << (*it)[0];
            ++clauses;
          }
        }
        // Alerts on the exporter's series (all but `up`) name the org.
        if (rule["alert"] && expr.find("cloudaware_") != std::string::npos) {
          EXPECT_NE(Str(rule["annotations"]["summary"])
                        .find("{{ with $labels.org }} (org {{ . }}){{ end }}"),
                    std::string::npos)
              << name;
          ++summaries;
        }
      }
    }
  }
  EXPECT_GE(clauses, 4);
  EXPECT_GE(summaries, 10);
}

}  // namespace
