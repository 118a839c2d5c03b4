// Resizing, letterboxing and normalisation (see preprocess.h for the exact
// conventions each function copies and why).
#include "image/preprocess.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace spdinfer {
namespace {

// One output coordinate's source taps along one axis.
struct Taps {
  int first = 0;
  std::vector<float> weights;
};

// Triangle filter taps for resampling `in` samples to `out`, pixel centres at
// i + 0.5, for the outputs i in [begin, begin + count). The weights of taps
// outside the image are dropped and the rest renormalised, which is exactly
// the edge clamping of cv2 / torch bilinear.
std::vector<Taps> make_taps(int in, int out, bool antialias, int begin, int count) {
  const double scale = static_cast<double>(in) / out;
  const double support = antialias ? std::max(scale, 1.0) : 1.0;
  std::vector<Taps> taps(count);
  for (int i = begin; i < begin + count; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(std::floor(center - support - 0.5)));
    const int hi = std::min(in - 1, static_cast<int>(std::ceil(center + support - 0.5)));
    Taps& t = taps[i - begin];
    double sum = 0;
    std::vector<double> w;
    int first = -1;
    for (int j = lo; j <= hi; ++j) {
      const double x = std::fabs((j + 0.5 - center) / support);
      const double wj = x < 1.0 ? 1.0 - x : 0.0;
      if (wj <= 0 && first < 0) continue;  // leading zeros
      if (first < 0) first = j;
      w.push_back(wj);
      sum += wj;
    }
    while (!w.empty() && w.back() <= 0) w.pop_back();
    if (first < 0 || sum <= 0) {  // cannot happen for in, out >= 1; keep it total anyway
      t.first = std::min(std::max(static_cast<int>(center), 0), in - 1);
      t.weights = {1.0f};
      continue;
    }
    t.first = first;
    for (double wj : w) t.weights.push_back(static_cast<float>(wj / sum));
  }
  return taps;
}

std::uint8_t to_u8(float v) {
  // floor(v + 0.5): the Python reference pipeline rounds the same way.
  const float r = std::floor(v + 0.5f);
  return static_cast<std::uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
}

// Python's round(): half to even, as YOLOv5's letterbox and torchvision use.
int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

// The pixels [x0, x0 + w) x [y0, y0 + h) of `src` resized to out_w x out_h, computed alone: a
// centre crop of a resize costs the crop, not the resize (a 20000x1 image resized to cover
// 64x64 would be 1.28 M x 64 pixels). The same arithmetic per pixel as the whole resize.
Image resize_bilinear_window(const Image& src, int out_w, int out_h, int x0, int y0, int w, int h,
                             bool antialias) {
  const std::vector<Taps> tx = make_taps(src.width, out_w, antialias, x0, w);
  const std::vector<Taps> ty = make_taps(src.height, out_h, antialias, y0, h);
  // Horizontal pass into floats (no intermediate rounding, like cv2's fixed-point buffer) over
  // the source rows the window reads (taps move down monotonically), then vertical pass,
  // rounded once.
  const int row0 = ty.front().first;
  const int rows_used = ty.back().first + static_cast<int>(ty.back().weights.size()) - row0;
  std::vector<float> rows(std::size_t(rows_used) * w * 3);
  for (int r = 0; r < rows_used; ++r) {
    const std::uint8_t* in = src.at(0, row0 + r);
    float* out = &rows[std::size_t(r) * w * 3];
    for (int x = 0; x < w; ++x) {
      const Taps& t = tx[x];
      float acc[3] = {0, 0, 0};
      for (std::size_t k = 0; k < t.weights.size(); ++k) {
        const std::uint8_t* p = in + (t.first + k) * 3;
        for (int c = 0; c < 3; ++c) acc[c] += t.weights[k] * p[c];
      }
      for (int c = 0; c < 3; ++c) out[x * 3 + c] = acc[c];
    }
  }
  Image dst(w, h);
  for (int y = 0; y < h; ++y) {
    const Taps& t = ty[y];
    std::uint8_t* out = dst.at(0, y);
    for (int x = 0; x < w * 3; ++x) {
      float acc = 0;
      for (std::size_t k = 0; k < t.weights.size(); ++k)
        acc += t.weights[k] * rows[(std::size_t(t.first - row0) + k) * w * 3 + x];
      out[x] = to_u8(acc);
    }
  }
  return dst;
}

}  // namespace

Image resize_bilinear(const Image& src, int out_w, int out_h, bool antialias) {
  if (src.width <= 0 || src.height <= 0 || out_w <= 0 || out_h <= 0)
    throw Error("resize: cannot resize a " + std::to_string(src.width) + "x" + std::to_string(src.height) +
                " image to " + std::to_string(out_w) + "x" + std::to_string(out_h));
  if (out_w == src.width && out_h == src.height) return src;
  return resize_bilinear_window(src, out_w, out_h, 0, 0, out_w, out_h, antialias);
}

int round_up_to_multiple(int size, int stride) {
  if (stride <= 0) return size;
  return (size + stride - 1) / stride * stride;
}

LetterboxGeometry letterbox_geometry(int src_w, int src_h, int target_w, int target_h, int stride,
                                     bool minimal, bool scaleup) {
  if (src_w <= 0 || src_h <= 0 || target_w <= 0 || target_h <= 0)
    throw Error("letterbox: bad sizes " + std::to_string(src_w) + "x" + std::to_string(src_h) + " -> " +
                std::to_string(target_w) + "x" + std::to_string(target_h));
  LetterboxGeometry g;
  g.src_w = src_w;
  g.src_h = src_h;
  double r = std::min(static_cast<double>(target_h) / src_h, static_cast<double>(target_w) / src_w);
  if (!scaleup) r = std::min(r, 1.0);
  g.ratio = r;
  // A 1x20000 image would round to 0 pixels; YOLOv5 would crash, we keep one.
  g.resized_w = std::max(1, round_half_even(src_w * r));
  g.resized_h = std::max(1, round_half_even(src_h * r));
  int dw = std::max(0, target_w - g.resized_w), dh = std::max(0, target_h - g.resized_h);
  if (minimal && stride > 0) {
    dw %= stride;
    dh %= stride;
  }
  g.pad_left = round_half_even(dw / 2.0 - 0.1);
  g.pad_top = round_half_even(dh / 2.0 - 0.1);
  g.out_w = g.resized_w + g.pad_left + round_half_even(dw / 2.0 + 0.1);
  g.out_h = g.resized_h + g.pad_top + round_half_even(dh / 2.0 + 0.1);
  return g;
}

Image letterbox(const Image& src, const LetterboxGeometry& g, std::uint8_t fill, bool antialias) {
  if (src.width != g.src_w || src.height != g.src_h)
    throw Error("letterbox: geometry is for a " + std::to_string(g.src_w) + "x" + std::to_string(g.src_h) +
                " image, got " + std::to_string(src.width) + "x" + std::to_string(src.height));
  const Image resized = resize_bilinear(src, g.resized_w, g.resized_h, antialias);
  Image out(g.out_w, g.out_h, fill);
  for (int y = 0; y < g.resized_h; ++y)
    std::copy_n(resized.at(0, y), std::size_t(g.resized_w) * 3, out.at(g.pad_left, y + g.pad_top));
  return out;
}

Image resize_for_classifier(const Image& src, const Preprocess& p) {
  const int th = p.height, tw = p.width;
  if (p.resize == "resize") return resize_bilinear(src, tw, th, true);
  if (p.resize == "letterbox") {
    return letterbox(src, letterbox_geometry(src.width, src.height, tw, th, 0, false), 114, true);
  }
  if (p.resize != "resize_crop") throw Error("preprocess: unknown resize mode '" + p.resize + "'");
  int nw, nh;
  if (static_cast<double>(th) / src.height >= static_cast<double>(tw) / src.width) {
    nh = th;
    nw = std::max(tw, static_cast<int>(static_cast<double>(th) * src.width / src.height));
  } else {
    nw = tw;
    nh = std::max(th, static_cast<int>(static_cast<double>(tw) * src.height / src.width));
  }
  const int top = round_half_even((nh - th) / 2.0), left = round_half_even((nw - tw) / 2.0);
  if (nw == src.width && nh == src.height) {  // no resampling, as resize_bilinear: a plain crop
    Image out(tw, th);
    for (int y = 0; y < th; ++y) std::copy_n(src.at(left, y + top), std::size_t(tw) * 3, out.at(0, y));
    return out;
  }
  return resize_bilinear_window(src, nw, nh, left, top, tw, th, true);
}

Tensor image_to_tensor(const Image& img, const Preprocess& p) {
  Tensor t({1, 3, img.height, img.width});
  const std::size_t plane = std::size_t(img.height) * img.width;
  for (int c = 0; c < 3; ++c) {
    // x * scale - mean, / std: the order of the model file's preprocess (design.md).
    const float scale = p.scale, mean = p.mean[c], std = p.std[c];
    float* out = t.data() + c * plane;
    for (std::size_t i = 0; i < plane; ++i) out[i] = (img.pixels[i * 3 + c] * scale - mean) / std;
  }
  return t;
}

}  // namespace spdinfer
