// The time loop of a GRU layer, forward and backward, in C++: per time step one matrix product
// and a few passes over the (batch, hidden) values, instead of the ~30 tensor operations (each
// with its own dispatch from Python) that torch.nn.GRU's CPU implementation runs per step.
// The products over all time steps at once (input projections, weight gradients) stay in Python,
// in benchmarks/fused_gru.py, which also checks this file against torch.nn.GRU.
#include <torch/extension.h>
#include <vector>

// gi: (T, B, 3H) input projections with b_ih; h0: (B, H); w_hh: (3H, H); b_hh: (3H).
// Returns hs (T+1, B, H), rz (T, B, 2H), n (T, B, H), ghn (T, B, H).
std::vector<at::Tensor> forward(at::Tensor gi, at::Tensor h0, at::Tensor w_hh, at::Tensor b_hh) {
  const int64_t T = gi.size(0), B = gi.size(1), H = h0.size(1);
  auto hs = at::empty({T + 1, B, H}, gi.options());
  auto rz = at::empty({T, B, 2 * H}, gi.options());
  auto n = at::empty({T, B, H}, gi.options());
  auto ghn = at::empty({T, B, H}, gi.options());
  auto gh = at::empty({B, 3 * H}, gi.options());
  auto w_hh_t = w_hh.t();
  hs[0].copy_(h0);
  for (int64_t t = 0; t < T; ++t) {
    at::Tensor h_prev = hs[t], h_next = hs[t + 1], g = gi[t], rz_t = rz[t], n_t = n[t], ghn_t = ghn[t];
    at::addmm_out(gh, b_hh, h_prev, w_hh_t);
    at::add_out(rz_t, g.narrow(1, 0, 2 * H), gh.narrow(1, 0, 2 * H));
    rz_t.sigmoid_();  // ATen's vectorised sigmoid and tanh beat scalar loops
    ghn_t.copy_(gh.narrow(1, 2 * H, H));
    const float* gp = g.data_ptr<float>();
    const float* rzp = rz_t.data_ptr<float>();
    const float* qp = ghn_t.data_ptr<float>();
    float* np_ = n_t.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j)
        np_[b * H + j] = gp[b * 3 * H + 2 * H + j] + rzp[b * 2 * H + j] * qp[b * H + j];
    n_t.tanh_();
    const float* hp = h_prev.data_ptr<float>();
    float* hn = h_next.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        const float c = np_[b * H + j], z = rzp[b * 2 * H + H + j];
        hn[b * H + j] = c + z * (hp[b * H + j] - c);
      }
  }
  return {hs, rz, n, ghn};
}

// d_out: (T, B, H) gradient of the outputs, d_hT: (B, H) of the last state.
// Returns dgi (T, B, 3H) (also the gradient of b_ih per step), dgh (T, B, 3H), dh0 (B, H).
std::vector<at::Tensor> backward(at::Tensor d_out, at::Tensor d_hT, at::Tensor hs, at::Tensor rz, at::Tensor n,
                                 at::Tensor ghn, at::Tensor w_hh) {
  const int64_t T = d_out.size(0), B = d_out.size(1), H = d_out.size(2);
  auto dgi = at::empty({T, B, 3 * H}, d_out.options());
  auto dgh = at::empty({T, B, 3 * H}, d_out.options());
  auto dh = d_hT.clone();
  auto direct = at::empty({B, H}, d_out.options());
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* go = d_out[t].data_ptr<float>();
    const float* rzt = rz[t].data_ptr<float>();
    const float* nt = n[t].data_ptr<float>();
    const float* ghnt = ghn[t].data_ptr<float>();
    const float* hp = hs[t].data_ptr<float>();
    float* dht = dh.data_ptr<float>();
    float* dgit = dgi[t].data_ptr<float>();
    float* dght = dgh[t].data_ptr<float>();
    float* dd = direct.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        float d = dht[k] + go[k];
        float r = rzt[b * 2 * H + j], z = rzt[b * 2 * H + H + j], c = nt[k];
        float dc = d * (1.0f - z) * (1.0f - c * c);
        float dz = d * (hp[k] - c) * z * (1.0f - z);
        float dr = dc * ghnt[k] * r * (1.0f - r);
        float* gi_b = dgit + b * 3 * H; float* gh_b = dght + b * 3 * H;
        gi_b[j] = dr; gi_b[H + j] = dz; gi_b[2 * H + j] = dc;
        gh_b[j] = dr; gh_b[H + j] = dz; gh_b[2 * H + j] = dc * r;
        dd[k] = d * z;
      }
    }
    at::addmm_out(dh, direct, dgh[t], w_hh);
  }
  return {dgi, dgh, dh};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "GRU layer time loop, forward");
  m.def("backward", &backward, "GRU layer time loop, backward");
}
