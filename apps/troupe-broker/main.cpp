// troupe-broker: a local Kafka-protocol broker on librdkafka's mock cluster.
//
// It speaks the real Kafka protocol on 127.0.0.1 (idempotent producers,
// consumer groups, committed offsets; kcat works), creates the engine's topics
// and their dead-letter topics, prints its bootstrap string as the first line
// on stdout and runs until SIGINT/SIGTERM. Brokers can be taken down and up
// again to rehearse outages: `down [ID|all]`, `up [ID|all]`, `status` on
// stdin, or SIGUSR1 (all down) / SIGUSR2 (all up).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <unistd.h>

#include "cli/cli.hpp"

namespace {

const std::vector<std::string> engine_topics{
  "order.created",          "payment.result",    "inventory.result",
  "order.status.changed",   "inventory.release", "payment.refund",
  "order.cancel.requested", "orders.requested"};

// Never runs: the signals stay blocked and main() takes them with sigwait().
// Installing it replaces an inherited SIG_IGN (shells give background jobs
// SIGINT ignored), which would otherwise discard the signal before sigwait.
void no_op(int) {
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in{s};
  for (std::string item; std::getline(in, item, sep);)
    out.push_back(item);
  return out;
}

// The cluster and what we told it. The stdin thread and the signal loop both
// act on it; the mutex also keeps a late command off a destroyed cluster.
class Cluster {
public:
  Cluster(rd_kafka_mock_cluster_t* mc, int brokers)
    : mc_{mc},
      addrs_{split(rd_kafka_mock_cluster_bootstraps(mc), ',')},
      up_(brokers + 1, true) {
  }

  // `which` is a broker id, "all" or empty (= all).
  void set(const std::string& which, bool up) {
    std::lock_guard<std::mutex> lock{mu_};
    if (mc_ == nullptr)
      return;
    int brokers = static_cast<int>(up_.size()) - 1;
    // -1 = every broker in one request to the mock thread; issued one by one,
    // the later requests were measured to stall for up to 1 s each.
    int id = -1;
    if (!which.empty() && which != "all") {
      size_t used = 0;
      try {
        id = std::stoi(which, &used);
      } catch (const std::exception&) {
      }
      if (used == 0 || used != which.size() || id < 1 || id > brokers) {
        std::cerr << "troupe-broker: no broker '" << which << "' (1.."
                  << brokers << " or all)" << std::endl;
        return;
      }
    }
    auto rc = up ? rd_kafka_mock_broker_set_up(mc_, id)
                 : rd_kafka_mock_broker_set_down(mc_, id);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "troupe-broker: " << (up ? "up" : "down") << ' ' << which
                << ": " << rd_kafka_err2str(rc) << std::endl;
      return;
    }
    std::string list;
    for (int b = 1; b <= brokers; ++b) {
      if (id == -1 || id == b) {
        up_[b] = up;
        list += " " + std::to_string(b);
      }
    }
    std::cerr << "troupe-broker: brokers " << (up ? "up:" : "down:") << list
              << std::endl;
  }

  void status() {
    std::lock_guard<std::mutex> lock{mu_};
    for (size_t id = 1; id < up_.size(); ++id)
      std::cerr << "troupe-broker: broker " << id << ' '
                << (up_[id] ? "up" : "down") << ' '
                << (id - 1 < addrs_.size() ? addrs_[id - 1] : "?") << std::endl;
  }

  void destroy() {
    std::lock_guard<std::mutex> lock{mu_};
    rd_kafka_mock_cluster_destroy(mc_);
    mc_ = nullptr;
  }

private:
  std::mutex mu_;
  rd_kafka_mock_cluster_t* mc_;
  std::vector<std::string> addrs_; // bootstraps list in broker-id order
  std::vector<bool> up_;           // indexed by broker id, [0] unused
};

// Control commands, one per line. EOF (stdin closed or /dev/null) only ends
// the reading; the broker keeps running until a signal.
void read_commands(Cluster& cluster) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in{line};
    std::string cmd, arg;
    in >> cmd >> arg;
    if (cmd == "down" || cmd == "up")
      cluster.set(arg, cmd == "up");
    else if (cmd == "status")
      cluster.status();
    else if (!cmd.empty())
      std::cerr << "troupe-broker: unknown command '" << cmd
                << "' (down [ID|all], up [ID|all], status)" << std::endl;
  }
}

bool write_atomically(const std::string& path, const std::string& text) {
  auto tmp = path + ".tmp." + std::to_string(getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr)
    return false;
  bool ok = std::fputs(text.c_str(), f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0)
    return true;
  std::remove(tmp.c_str());
  return false;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"troupe-broker: local Kafka-protocol broker (librdkafka mock "
               "cluster) with Troupe's topics.\nstdin commands: down [ID|all], "
               "up [ID|all], status. SIGUSR1: all down, SIGUSR2: all up."};
  int brokers = 3;
  int partitions = 6;
  std::string bootstrap_file;
  std::vector<std::string> topics = engine_topics;
  app.add_option("--brokers", brokers, "number of brokers (ids 1..N)")
    ->capture_default_str()
    ->check(CLI::Range(1, 16));
  app.add_option("--partitions", partitions, "partitions per topic")
    ->capture_default_str()
    ->check(CLI::Range(1, 1024));
  app.add_option(
    "--bootstrap-file", bootstrap_file,
    "also write the bootstrap string to this file (removed on exit)");
  app
    .add_option(
      "--topics", topics,
      "topics to create, comma-separated; each also gets a .dlq topic")
    ->delimiter(',')
    ->capture_default_str();
  if (auto exit_code = troupe::cli::parse(app, "troupe-broker", argc, argv))
    return *exit_code;

  // Started with stdin (or stdout/stderr) closed, librdkafka's first pipe or
  // socket would become fd 0 and the command reader would drain it.
  for (int fd = 0; fd <= 2; ++fd)
    if (fcntl(fd, F_GETFD) == -1
        && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
      return 1;

  // Block the control signals before any thread exists, so every librdkafka
  // and stdin thread inherits the mask and only sigwait() below sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) {
    sigaddset(&sigs, sig);
    std::signal(sig, no_op);
  }
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  char err[512];
  auto conf = rd_kafka_conf_new();
  // The mock brokers inherit this: without it, every small response waits
  // for the client's delayed ACK (~40 ms per request).
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof(err));
  // This handle only hosts the cluster; hide its "no bootstrap.servers" warning.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  auto rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::cerr << "troupe-broker: " << err << std::endl;
    return 1;
  }
  auto mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    std::cerr << "troupe-broker: cannot create the mock cluster" << std::endl;
    rd_kafka_destroy(rk);
    return 1;
  }
  // Never freed (and static, so it stays reachable, not leaked): the detached
  // stdin thread may still use it while main returns.
  static Cluster* const cluster = new Cluster{mc, brokers};
  auto fail = [&](const std::string& why) {
    std::cerr << "troupe-broker: " << why << std::endl;
    cluster->destroy();
    rd_kafka_destroy(rk);
    return 1;
  };

  std::vector<std::string> names;
  for (auto& t : topics) {
    if (t.empty())
      continue;
    for (auto name : {t, t + ".dlq"})
      if (std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(name);
  }
  for (auto& name : names) {
    auto rc = rd_kafka_mock_topic_create(mc, name.c_str(), partitions,
                                         std::min(brokers, 3));
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail("cannot create " + name + ": " + rd_kafka_err2str(rc));
  }

  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  std::cout << bootstrap << std::endl;
  // Readers poll for a non-empty file: it must appear complete or not at all.
  if (!bootstrap_file.empty()
      && !write_atomically(bootstrap_file, bootstrap + "\n"))
    return fail("cannot write " + bootstrap_file);
  std::cerr << "troupe-broker: " << brokers << " brokers, " << partitions
            << " partitions, " << names.size() << " topics at " << bootstrap
            << "; Ctrl-C to stop" << std::endl;

  // Detached: it may sit in a blocking read of stdin until the process exits.
  std::thread{read_commands, std::ref(*cluster)}.detach();

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0)
      continue;
    if (sig == SIGUSR1)
      cluster->set("all", false);
    else if (sig == SIGUSR2)
      cluster->set("all", true);
    else
      break;
  }
  if (!bootstrap_file.empty())
    std::remove(bootstrap_file.c_str());
  cluster->destroy();
  rd_kafka_destroy(rk);
  std::cerr << "troupe-broker: stopped" << std::endl;
  return 0;
}
