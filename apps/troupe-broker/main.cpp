// troupe-broker: a local Kafka-protocol broker on librdkafka's mock cluster.
//
// It speaks the real Kafka protocol on 127.0.0.1 (idempotent producers,
// consumer groups, committed offsets; kcat works), creates the engine's topics
// and their dead-letter topics, prints its bootstrap string as the first line
// on stdout and runs until SIGINT/SIGTERM. Brokers can be taken down and up
// again to rehearse outages: `down [ID|all]`, `up [ID|all]`, `status` on
// stdin, or SIGUSR1 (all down) / SIGUSR2 (all up).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

namespace {

std::atomic<int> pending_signal{0};

void on_signal(int sig) {
  pending_signal = sig;
}

const std::vector<std::string> engine_topics{
  "order.created",        "payment.result",    "inventory.result",
  "order.status.changed", "inventory.release", "payment.refund"};

void set_brokers(rd_kafka_mock_cluster_t* mc, int brokers, const std::string& which,
                 bool up) {
  std::vector<int> ids;
  if (which.empty() || which == "all") {
    for (int i = 1; i <= brokers; ++i)
      ids.push_back(i);
  } else {
    try {
      int id = std::stoi(which);
      if (id < 1 || id > brokers)
        throw std::out_of_range("id");
      ids.push_back(id);
    } catch (const std::exception&) {
      std::cerr << "troupe-broker: no broker '" << which << "' (1.." << brokers
                << " or all)" << std::endl;
      return;
    }
  }
  std::string list;
  for (auto id : ids) {
    if (up)
      rd_kafka_mock_broker_set_up(mc, id);
    else
      rd_kafka_mock_broker_set_down(mc, id);
    list += " " + std::to_string(id);
  }
  std::cerr << "troupe-broker: brokers " << (up ? "up:" : "down:") << list
            << std::endl;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"troupe-broker: local Kafka-protocol broker (librdkafka mock "
               "cluster) with Troupe's topics"};
  int brokers = 3;
  int partitions = 6;
  std::string bootstrap_file;
  std::vector<std::string> topics = engine_topics;
  app.add_option("--brokers", brokers, "number of brokers")
    ->check(CLI::Range(1, 16));
  app.add_option("--partitions", partitions, "partitions per topic")
    ->check(CLI::Range(1, 256));
  app.add_option("--bootstrap-file", bootstrap_file,
                 "also write the bootstrap string to this file");
  app.add_option("--topics", topics,
                 "topics to create (each also gets a .dlq topic)")
    ->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGUSR1, on_signal);
  std::signal(SIGUSR2, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  char err[512];
  auto conf = rd_kafka_conf_new();
  // The mock brokers inherit this: without it, every small response waits
  // for the client's delayed ACK (~40 ms per request).
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof(err));
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
  int created = 0;
  for (auto& t : topics) {
    for (auto name : {t, t + ".dlq"}) {
      auto rc = rd_kafka_mock_topic_create(mc, name.c_str(), partitions,
                                           std::min(brokers, 3));
      if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::cerr << "troupe-broker: cannot create " << name << ": "
                  << rd_kafka_err2str(rc) << std::endl;
        return 1;
      }
      ++created;
    }
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  std::cout << bootstrap << std::endl;
  if (!bootstrap_file.empty()) {
    auto tmp = bootstrap_file + ".tmp";
    {
      std::ofstream out{tmp};
      out << bootstrap << '\n';
    }
    if (std::rename(tmp.c_str(), bootstrap_file.c_str()) != 0) {
      std::cerr << "troupe-broker: cannot write " << bootstrap_file << std::endl;
      return 1;
    }
  }
  std::cerr << "troupe-broker: " << brokers << " broker(s), " << partitions
            << " partition(s), " << created << " topics at " << bootstrap
            << "; Ctrl-C to stop" << std::endl;

  // Control commands on stdin; EOF only stops the reading.
  std::atomic<bool> running{true};
  std::thread reader{[&] {
    std::string line;
    while (running && std::getline(std::cin, line)) {
      std::istringstream in{line};
      std::string cmd, arg;
      in >> cmd >> arg;
      if (cmd == "down" || cmd == "up") {
        set_brokers(mc, brokers, arg, cmd == "up");
      } else if (cmd == "status") {
        std::cerr << "troupe-broker: " << brokers << " broker(s) at "
                  << bootstrap << std::endl;
      } else if (!cmd.empty()) {
        std::cerr << "troupe-broker: unknown command '" << cmd
                  << "' (down [ID|all], up [ID|all], status)" << std::endl;
      }
    }
  }};
  reader.detach();

  for (;;) {
    usleep(100000);
    int sig = pending_signal.exchange(0);
    if (sig == SIGUSR1)
      set_brokers(mc, brokers, "all", false);
    else if (sig == SIGUSR2)
      set_brokers(mc, brokers, "all", true);
    else if (sig == SIGINT || sig == SIGTERM)
      break;
  }
  running = false;
  if (!bootstrap_file.empty())
    std::remove(bootstrap_file.c_str());
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  std::cerr << "troupe-broker: stopped" << std::endl;
  return 0;
}
