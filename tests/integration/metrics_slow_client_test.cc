// tests/integration/metrics_slow_client_test.cc — idle and slow HTTP clients
// on the metrics port (server/metrics/metrics_server.h) cannot lock a
// scraper out: with 50 connections that send nothing and 10 that send a
// request header one byte at a time, all held open (and re-opened when the
// daemon drops them), scrapes of /metrics keep answering within a couple of
// seconds, and the daemon drops each idle or slow connection after a bounded
// time instead of holding a worker thread for it.
//
// Real sockets against the real daemon on 127.0.0.1; the times measured are
// printed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/http_get.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using MetricsSlowClientTest = ServerTest;

constexpr int kIdleClients = 50;
constexpr int kSlowClients = 10;
constexpr auto kSlowByteInterval = std::chrono::milliseconds(100);
constexpr int kScrapes = 4;
constexpr auto kScrapeInterval = std::chrono::seconds(1);
// What a scrape may take with the hostile clients connected.
constexpr auto kScrapeBound = std::chrono::seconds(2);
// How long the daemon may keep a connection that never completes its request
// header (the exposer's request timeout plus slack for a loaded CI machine).
constexpr auto kDropBound = std::chrono::seconds(5);

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A connected TCP socket to 127.0.0.1:port; -1 on failure.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when the peer has closed (or reset) `fd`; does not block.
bool ClosedByPeer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  char byte;
  return recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

// The hostile clients, each on its own thread until Stop(): idle ones
// connect and send nothing; slow ones send "GET /metrics HTTP/1.1..." a byte
// every kSlowByteInterval. A connection the daemon drops is re-opened, so
// the daemon always has kIdleClients + kSlowClients of them. Records how long
// each first connection lived.
class HostileClients {
 public:
  explicit HostileClients(int port) : port_(port) {}
  ~HostileClients() { Stop(); }

  void Start() {
    for (int i = 0; i < kIdleClients; ++i) threads_.emplace_back([this] { Run(/*slow=*/false); });
    for (int i = 0; i < kSlowClients; ++i) threads_.emplace_back([this] { Run(/*slow=*/true); });
  }

  // Waits until every client has its first connection open.
  bool WaitConnected(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (connected_.load() < kIdleClients + kSlowClients) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  int connect_failures() const { return connect_failures_.load(); }
  int reconnects() const { return reconnects_.load(); }
  // Seconds each first connection lived until the daemon dropped it; a
  // client whose first connection outlived the test is absent.
  std::vector<double> first_lifetimes(bool slow) {
    std::lock_guard<std::mutex> lock(mutex_);
    return slow ? slow_lifetimes_ : idle_lifetimes_;
  }

 private:
  void Run(bool slow) {
    const std::string header =
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client\r\n"
        "X-Padding: " +
        std::string(200, 'x') + "\r\n\r\n";
    bool first = true;
    while (!stop_) {
      const int fd = Connect(port_);
      if (fd < 0) {
        ++connect_failures_;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (first) ++connected_;
      const Clock::time_point opened = Clock::now();
      size_t sent = 0;
      bool dropped = false;
      while (!stop_ && !dropped) {
        std::this_thread::sleep_for(slow ? kSlowByteInterval : std::chrono::milliseconds(20));
        if (slow && sent < header.size()) {
          if (send(fd, header.data() + sent, 1, MSG_NOSIGNAL) != 1) {
            dropped = true;
            break;
          }
          ++sent;
        }
        dropped = ClosedByPeer(fd);
      }
      close(fd);
      if (!dropped) break;
      if (first) {
        std::lock_guard<std::mutex> lock(mutex_);
        (slow ? slow_lifetimes_ : idle_lifetimes_).push_back(SecondsSince(opened));
      } else {
        ++reconnects_;
      }
      first = false;
    }
  }

  const int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connected_{0};
  std::atomic<int> connect_failures_{0};
  std::atomic<int> reconnects_{0};
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::vector<double> idle_lifetimes_;
  std::vector<double> slow_lifetimes_;
};

TEST_F(MetricsSlowClientTest, IdleAndSlowClientsDoNotLockOutAScraper) {
  const int port = server_->metrics_port();
  ASSERT_GT(port, 0);
  HostileClients hostile(port);
  hostile.Start();
  ASSERT_TRUE(hostile.WaitConnected(std::chrono::seconds(5)));
  // Let the daemon accept them all and hand them to its worker threads.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const Clock::time_point test_start = Clock::now();
  std::vector<double> scrape_seconds;
  for (int i = 0; i < kScrapes; ++i) {
    if (i > 0) std::this_thread::sleep_for(kScrapeInterval);
    const Clock::time_point start = Clock::now();
    std::string error;
    // Twice the bound, so a late answer is measured rather than cut off.
    const std::optional<HttpResponse> response =
        HttpGet(port, "/metrics", &error,
                std::chrono::duration_cast<std::chrono::milliseconds>(2 * kScrapeBound));
    const double seconds = SecondsSince(start);
    scrape_seconds.push_back(seconds);
    std::printf("[metrics-slow-client] scrape %d at %.2f s: %.3f s, %s\n", i,
                SecondsSince(test_start), seconds,
                response.has_value() ? ("HTTP " + std::to_string(response->status)).c_str()
                                     : error.c_str());
    ASSERT_TRUE(response.has_value())
        << "scrape " << i << " locked out after " << seconds << " s: " << error;
    EXPECT_EQ(response->status, 200);
    EXPECT_NE(response->body.find("inferd:engine_healthy"), std::string::npos);
    EXPECT_LT(seconds, std::chrono::duration<double>(kScrapeBound).count()) << "scrape " << i;
  }
  // Keep the clients on until every first connection could have been dropped.
  const double waited = SecondsSince(test_start);
  const double drop_bound = std::chrono::duration<double>(kDropBound).count();
  if (waited < drop_bound + 0.5) {
    std::this_thread::sleep_for(std::chrono::duration<double>(drop_bound + 0.5 - waited));
  }
  hostile.Stop();

  const std::vector<double> idle = hostile.first_lifetimes(false);
  const std::vector<double> slow = hostile.first_lifetimes(true);
  auto max_of = [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
  };
  std::printf(
      "[metrics-slow-client] %d idle + %d slow clients: scrapes max %.3f s; daemon dropped %zu "
      "idle (longest lived %.2f s) and %zu slow (longest %.2f s); %d reconnects, %d connect "
      "failures\n",
      kIdleClients, kSlowClients, max_of(scrape_seconds), idle.size(), max_of(idle), slow.size(),
      max_of(slow), hostile.reconnects(), hostile.connect_failures());
  // Every first connection was dropped within the bound: none holds a worker
  // for ever, idle or trickling.
  EXPECT_EQ(idle.size(), static_cast<size_t>(kIdleClients));
  EXPECT_EQ(slow.size(), static_cast<size_t>(kSlowClients));
  EXPECT_LT(max_of(idle), drop_bound);
  EXPECT_LT(max_of(slow), drop_bound);
}

}  // namespace
}  // namespace inferd::testing
