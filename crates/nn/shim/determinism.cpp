// The determinism switch: the libtorch settings that tch 0.24 does not expose.
// Every function catches C++ exceptions and returns a status, so none crosses into Rust.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/headeronly/version.h>

#include <cstring>
#include <exception>
#include <string>

namespace {
void copy_message(const char* what, char* err, size_t err_len) {
  if (err == nullptr || err_len == 0) return;
  std::strncpy(err, what, err_len - 1);
  err[err_len - 1] = '\0';
}
}  // namespace

extern "C" {

// The settings as libtorch reports them; ints are 0/1 flags unless named otherwise.
struct lockstep_determinism_state {
  int deterministic_algorithms;
  int deterministic_warn_only;
  int cudnn_deterministic;
  int cudnn_benchmark;
  int allow_tf32_cublas;
  int allow_tf32_cudnn;
  int allow_tf32_onednn;
  int mkldnn_deterministic;
  int fill_uninitialized_memory;
  int intra_op_threads;       // a count
  int has_cuda;
  int cuda_devices;           // a count
  int cuda_started;           // a primary context exists on some device
  long cudart_version;        // 0 without CUDA
  long cudnn_version;         // 0 without cuDNN
};

// mode: 0 = libtorch's defaults, 1 = strict (error on nondeterministic ops), 2 = warn only.
int lockstep_apply_determinism(int mode, int intra_op_threads, char* err, size_t err_len) {
  try {
    auto& ctx = at::globalContext();
    const bool on = mode != 0;
    ctx.setDeterministicAlgorithms(on, mode == 2);
    ctx.setDeterministicCuDNN(on);
    ctx.setBenchmarkCuDNN(false);
    ctx.setDeterministicMkldnn(on);
    ctx.setDeterministicFillUninitializedMemory(on);
    // libtorch's defaults: TF32 off for cuBLAS, on for cuDNN; oneDNN off.
    ctx.setAllowTF32CuBLAS(false);
    ctx.setAllowTF32CuDNN(!on);
    // Only when it is on: the setter warns on builds without Intel GPU support, and
    // off is already libtorch's default.
    if (ctx.allowTF32OneDNN()) ctx.setAllowTF32OneDNN(false);
    if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);
    return 0;
  } catch (const std::exception& e) {
    copy_message(e.what(), err, err_len);
    return 1;
  } catch (...) {
    copy_message("unknown C++ exception", err, err_len);
    return 1;
  }
}

int lockstep_read_determinism(lockstep_determinism_state* out, char* err, size_t err_len) {
  try {
    auto& ctx = at::globalContext();
    out->deterministic_algorithms = ctx.deterministicAlgorithms();
    out->deterministic_warn_only = ctx.deterministicAlgorithmsWarnOnly();
    out->cudnn_deterministic = ctx.deterministicCuDNN();
    out->cudnn_benchmark = ctx.benchmarkCuDNN();
    out->allow_tf32_cublas = ctx.allowTF32CuBLAS();
    out->allow_tf32_cudnn = ctx.allowTF32CuDNN();
    out->allow_tf32_onednn = ctx.allowTF32OneDNN();
    out->mkldnn_deterministic = ctx.deterministicMkldnn();
    out->fill_uninitialized_memory = ctx.deterministicFillUninitializedMemory();
    out->intra_op_threads = at::get_num_threads();
    out->has_cuda = at::Context::hasCUDA();
    out->cuda_devices = 0;
    out->cuda_started = 0;
    out->cudart_version = 0;
    out->cudnn_version = 0;
    if (out->has_cuda) {
      const auto& hooks = at::detail::getCUDAHooks();
      out->cuda_devices = hooks.getNumGPUs();
      for (int d = 0; d < out->cuda_devices; ++d) {
        if (hooks.hasPrimaryContext(static_cast<c10::DeviceIndex>(d))) out->cuda_started = 1;
      }
      out->cudart_version = hooks.versionCUDART();
      if (hooks.hasCuDNN()) out->cudnn_version = hooks.versionCuDNN();
    }
    return 0;
  } catch (const std::exception& e) {
    copy_message(e.what(), err, err_len);
    return 1;
  } catch (...) {
    copy_message("unknown C++ exception", err, err_len);
    return 1;
  }
}

const char* lockstep_torch_version() { return TORCH_VERSION; }

// The CPU dispatch level's name ("DEFAULT", "AVX2", "AVX512", …) into buf.
int lockstep_cpu_capability(char* buf, size_t len) {
  try {
    copy_message(at::get_cpu_capability().c_str(), buf, len);
    return 0;
  } catch (...) {
    copy_message("unknown", buf, len);
    return 1;
  }
}

}  // extern "C"
