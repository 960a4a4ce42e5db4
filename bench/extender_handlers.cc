// Extender server time, without the socket: decode + policy + encode for /filter and
// /prioritize at 100, 500 and 5000 candidate nodes, NodeNames and full-Nodes forms.
// (bench/extender_http.cc adds the socket, concurrency and the Go reference extender.)
#include <benchmark/benchmark.h>

#include "bench/cluster_fixture.h"
#include "common/log.h"
#include "extender/http_api.h"

namespace spotguard::bench {
namespace {

void Run(benchmark::State& state, bool filter) {
  const int n = static_cast<int>(state.range(0));
  const bool full = state.range(1) != 0;
  log::SetLevel(log::Level::kError);
  MetricsRegistry registry;
  extender::ExtenderMetrics metrics(registry);
  auto snapshot = SyntheticSnapshot(n);
  extender::HttpApi api({}, [&] { return snapshot; }, metrics);
  const std::string body = RequestBody(n, full);
  for (auto _ : state) {
    auto out = filter ? api.Filter(body) : api.Prioritize(body);
    if (out.first != 200) state.SkipWithError(out.second.c_str());
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
  state.SetLabel(full ? "full Nodes" : "NodeNames");
}

void BM_Filter(benchmark::State& state) { Run(state, true); }
void BM_Prioritize(benchmark::State& state) { Run(state, false); }

BENCHMARK(BM_Filter)->ArgsProduct({{100, 500, 5000}, {0, 1}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Prioritize)->ArgsProduct({{100, 500, 5000}, {0, 1}})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace spotguard::bench

BENCHMARK_MAIN();
