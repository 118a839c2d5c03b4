#include "eval/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/parallel.h"
#include "image/preprocess.h"

namespace spdinfer {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

// An idx file, gunzipped when it starts with gzip's magic bytes (zlib's gzread passes other
// files through unchanged), read only as far as asked: the header first, then exactly the data
// it declares, so a small gzip file that inflates to gigabytes is refused after the declared
// size instead of inflated whole.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path) : path_(path), file_(nullptr, gzclose) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec) fail(path, "cannot open: " + ec.message());
    if (!fs::is_regular_file(status)) fail(path, "not a regular file");
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) fail(path, std::string("cannot open: ") + std::strerror(errno));
    gzbuffer(file_.get(), 1 << 17);
  }

  // Appends up to `n` bytes to `out`, in chunks grown as data comes (a header that declares
  // 2 GB of a 100-byte file allocates nothing near that); fewer only at the end of the data.
  void read(std::size_t n, std::vector<std::uint8_t>& out) {
    constexpr std::size_t kChunk = 1 << 20;
    while (n > 0) {
      const std::size_t old = out.size(), want = std::min(n, kChunk);
      out.resize(old + want);
      const int got = gzread(file_.get(), out.data() + old, static_cast<unsigned>(want));
      if (got < 0) fail(path_, "cannot decompress: " + zlib_error());
      out.resize(old + static_cast<std::size_t>(got));
      if (got == 0) break;
      n -= static_cast<std::size_t>(got);
    }
    // gzread stops quietly at a gzip stream cut short; gzerror says so.
    int code = Z_OK;
    gzerror(file_.get(), &code);
    if (code != Z_OK && code != Z_STREAM_END) fail(path_, "cannot decompress: " + zlib_error() + " (truncated?)");
  }

  bool at_end() {
    std::vector<std::uint8_t> probe;
    read(1, probe);
    return probe.empty();
  }

 private:
  // zlib's gzerror text without the "PATH: " it starts with.
  std::string zlib_error() {
    int code = 0;
    const char* msg = gzerror(file_.get(), &code);
    std::string m = msg ? msg : "zlib error";
    if (m.rfind(path_ + ": ", 0) == 0) m.erase(0, path_.size() + 2);
    return m;
  }

  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
};

std::string hex_bytes(const std::vector<std::uint8_t>& b, std::size_t n) {
  std::string s;
  char buf[8];
  for (std::size_t i = 0; i < n && i < b.size(); ++i) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", b[i]);
    s += buf;
  }
  return s;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// "train-images-idx3-ubyte.gz" -> "train-labels-idx1-ubyte.gz" if present, else without/with .gz.
std::string labels_for(const std::string& images) {
  const fs::path p(images);
  std::string name = p.filename().string();
  const std::size_t at = name.find("images-idx3-ubyte");
  if (at == std::string::npos)
    fail(images, "an idx images file is named *images-idx3-ubyte*, so its labels can be found");
  name.replace(at, std::strlen("images-idx3-ubyte"), "labels-idx1-ubyte");
  std::vector<std::string> candidates = {name};
  const bool gz = name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
  candidates.push_back(gz ? name.substr(0, name.size() - 3) : name + ".gz");
  for (const auto& c : candidates) {
    const fs::path q = p.parent_path() / c;
    std::error_code ec;
    if (fs::is_regular_file(q, ec)) return q.string();
  }
  fail(images, "no labels file beside it (expected " + (p.parent_path() / candidates[0]).string() + ")");
}

LabelledDataset open_idx(const std::string& images_path, std::size_t num_classes) {
  LabelledDataset d;
  d.kind = LabelledDataset::Kind::Idx;
  d.images_path = images_path;
  d.labels_path = labels_for(images_path);
  IdxArray images = read_idx(d.images_path);
  IdxArray labels = read_idx(d.labels_path);
  if (images.dims.size() != 3)
    fail(d.images_path, "has " + std::to_string(images.dims.size()) +
                            " dimensions, expected 3 (images, rows, columns: grey idx3-ubyte)");
  if (labels.dims.size() != 1)
    fail(d.labels_path, "has " + std::to_string(labels.dims.size()) + " dimensions, expected 1 (idx1-ubyte labels)");
  if (labels.dims[0] != images.dims[0])
    fail(d.labels_path, std::to_string(labels.dims[0]) + " labels for " + std::to_string(images.dims[0]) +
                            " images in " + d.images_path);
  if (images.dims[0] == 0) fail(d.images_path, "holds no images");
  if (images.dims[1] < 1 || images.dims[2] < 1 || images.dims[1] > kMaxImageSide || images.dims[2] > kMaxImageSide)
    fail(d.images_path, "image size " + std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2]) +
                            " is not 1 to " + std::to_string(kMaxImageSide));
  d.height = static_cast<int>(images.dims[1]);
  d.width = static_cast<int>(images.dims[2]);
  d.pixels = std::move(images.data);
  d.labels.reserve(labels.data.size());
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= num_classes)
      fail(d.labels_path, "label " + std::to_string(labels.data[i]) + " of image " + std::to_string(i) +
                              " is not a class of a " + std::to_string(num_classes) + "-class model");
    d.labels.push_back(labels.data[i]);
  }
  d.description = d.images_path + " + " + d.labels_path;
  return d;
}

// A folder name for a class: '/' cannot appear in one.
std::string folder_name(const std::string& class_name) {
  std::string s = class_name;
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

LabelledDataset open_folders(const std::string& root, const std::vector<std::string>& class_names) {
  std::map<std::string, int> by_name;
  for (std::size_t c = 0; c < class_names.size(); ++c) {
    by_name.emplace(class_names[c], static_cast<int>(c));
    by_name.emplace(folder_name(class_names[c]), static_cast<int>(c));
  }
  std::vector<std::pair<std::string, fs::path>> folders;
  for (const std::string& folder : list_folder(root, /*folders=*/true))
    folders.emplace_back(fs::path(folder).filename().string(), folder);
  std::sort(folders.begin(), folders.end());
  if (folders.empty())
    fail(root, "neither idx files (*images-idx3-ubyte*) nor class folders: nothing to validate on");

  LabelledDataset d;
  d.kind = LabelledDataset::Kind::Folders;
  for (const auto& [name, path] : folders) {
    int cls = -1;
    auto it = by_name.find(name);
    if (it != by_name.end()) {
      cls = it->second;
    } else if (!name.empty() && name.size() < 10 && std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      const long v = std::stol(name);
      if (v < static_cast<long>(class_names.size())) cls = static_cast<int>(v);
    }
    if (cls < 0) {
      std::string some;
      for (std::size_t c = 0; c < class_names.size() && c < 5; ++c)
        some += (c ? ", " : "") + folder_name(class_names[c]);
      fail(path.string(), "folder matches no class of the model (class folders are named as the classes, e.g. " +
                              some + (class_names.size() > 5 ? ", ..." : "") + ", or by class number 0-" +
                              std::to_string(class_names.size() - 1) + ")");
    }
    std::vector<std::string> files;
    for (std::string& f : list_folder(path.string()))
      if (has_image_extension(f)) files.push_back(std::move(f));
    for (auto& f : files) {
      d.files.push_back(std::move(f));
      d.labels.push_back(cls);
    }
  }
  if (d.files.empty()) fail(root, "the class folders hold no .jpg/.jpeg/.png/.bmp images");
  d.description = root + " (" + std::to_string(folders.size()) + " class folder" + (folders.size() == 1 ? ")" : "s)");
  return d;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  IdxStream stream(path);
  std::vector<std::uint8_t> bytes;
  stream.read(4, bytes);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0)
    fail(path, "not an idx file (starts " + hex_bytes(bytes, 4) + ", expected 00 00 <type> <dimensions>)");
  if (bytes[2] != 0x08)
    fail(path, "idx element type 0x" + hex_bytes({bytes[2]}, 1) + ", only 0x08 (unsigned byte) is read");
  const int ndim = bytes[3];
  if (ndim < 1) fail(path, "idx file with 0 dimensions");
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndim);
  stream.read(header - 4, bytes);
  if (bytes.size() < header)
    fail(path, "idx header needs " + std::to_string(header) + " bytes, the file has " + std::to_string(bytes.size()));
  IdxArray a;
  std::uint64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    const std::uint8_t* b = &bytes[4 + 4 * i];
    const std::uint64_t dim = (std::uint64_t(b[0]) << 24) | (std::uint64_t(b[1]) << 16) | (std::uint64_t(b[2]) << 8) | b[3];
    a.dims.push_back(static_cast<int64_t>(dim));
    if (dim != 0 && count > kMaxIdxBytes / dim) fail(path, "idx dimensions describe more than " + std::to_string(kMaxIdxBytes) + " bytes");
    count *= dim;
  }
  const auto dims_text = [&a] {
    std::string dims;
    for (auto d : a.dims) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    return dims;
  };
  stream.read(static_cast<std::size_t>(count), a.data);
  if (a.data.size() < count)
    fail(path, "idx dimensions " + dims_text() + " need " + std::to_string(count) + " bytes of data, the file has " +
                   std::to_string(a.data.size()) + " (truncated?)");
  if (!stream.at_end())
    fail(path, "idx dimensions " + dims_text() + " need " + std::to_string(count) +
                   " bytes of data, the file has more (trailing bytes; reading stopped there)");
  return a;
}

Image grey_to_network_image(const std::uint8_t* grey, int w, int h, int out_w, int out_h) {
  if (w > out_w || h > out_h)
    throw Error("a " + std::to_string(w) + "x" + std::to_string(h) + " image does not fit a " + std::to_string(out_w) +
                "x" + std::to_string(out_h) + " input without resizing");
  Image out(out_w, out_h, 0);
  const int top = (out_h - h) / 2, left = (out_w - w) / 2;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* px = out.at(left + x, top + y);
      px[0] = px[1] = px[2] = grey[std::size_t(y) * w + x];
    }
  return out;
}

std::string LabelledDataset::sample_name(std::size_t i) const {
  if (kind == Kind::Folders) return files.at(i);
  return images_path + "[" + std::to_string(i) + "]";
}

LabelledDataset open_dataset(const std::string& path, const std::vector<std::string>& class_names) {
  if (class_names.empty()) fail(path, "the model has no classes to validate against");
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) fail(path, "no such file or folder");
  if (fs::is_regular_file(status)) return open_idx(path, class_names.size());
  if (!fs::is_directory(status)) fail(path, "neither a file nor a folder");

  std::vector<std::string> idx_images;
  for (std::string& f : list_folder(path))
    if (contains(fs::path(f).filename().string(), "images-idx3-ubyte")) idx_images.push_back(std::move(f));
  // The same file may be there plain and gzipped: prefer the plain one (no decompression).
  std::vector<std::string> unique;
  for (const auto& f : idx_images) {
    const bool gz = f.size() > 3 && f.compare(f.size() - 3, 3, ".gz") == 0;
    if (gz && std::find(idx_images.begin(), idx_images.end(), f.substr(0, f.size() - 3)) != idx_images.end()) continue;
    unique.push_back(f);
  }
  if (unique.size() == 1) return open_idx(unique[0], class_names.size());
  if (unique.size() > 1) {
    for (const auto& f : unique)
      if (fs::path(f).filename().string().rfind("t10k", 0) == 0) return open_idx(f, class_names.size());
    std::string list;
    for (const auto& f : unique) list += (list.empty() ? "" : ", ") + fs::path(f).filename().string();
    fail(path, "several idx image files (" + list + "): name the one to use");
  }
  return open_folders(path, class_names);
}

Tensor dataset_batch(const LabelledDataset& d, std::size_t begin, std::size_t end, const Preprocess& p, int threads) {
  if (begin >= end || end > d.size())
    throw Error("dataset batch [" + std::to_string(begin) + ", " + std::to_string(end) + ") of a " +
                std::to_string(d.size()) + "-sample dataset");
  const std::size_t n = end - begin;
  const std::size_t per = std::size_t(3) * p.height * p.width;
  Tensor batch({static_cast<int64_t>(n), 3, p.height, p.width});
  std::vector<std::string> errors(n);
  parallel_for(static_cast<int64_t>(n), threads, [&](int64_t k) {
    const std::size_t i = begin + static_cast<std::size_t>(k);
    try {
      Image img;
      if (d.kind == LabelledDataset::Kind::Idx) {
        const std::uint8_t* grey = d.pixels.data() + i * std::size_t(d.height) * d.width;
        if (d.width <= p.width && d.height <= p.height) {
          img = grey_to_network_image(grey, d.width, d.height, p.width, p.height);
        } else {
          img = resize_for_classifier(grey_to_network_image(grey, d.width, d.height, d.width, d.height), p);
        }
      } else {
        img = resize_for_classifier(load_image(d.files[i]), p);
      }
      const Tensor x = image_to_tensor(img, p);
      std::copy_n(x.data(), per, batch.data() + k * per);
    } catch (const std::exception& e) {
      errors[k] = e.what();
    }
  });
  for (std::size_t k = 0; k < n; ++k) {
    if (errors[k].empty()) continue;
    // load_image's messages already start with the path.
    if (d.kind == LabelledDataset::Kind::Folders) throw Error(errors[k]);
    throw Error(d.sample_name(begin + k) + ": " + errors[k]);
  }
  return batch;
}

}  // namespace spdinfer
