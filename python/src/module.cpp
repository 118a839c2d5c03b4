// The extension module spdinfer._spdinfer: spdinfer.load(), the Model it
// returns, the Detections detect() returns, load_image() and spdinfer.Error.
// Only argument plumbing and docstrings here; the work is loaded_model.cpp's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "arrays.h"
#include "engine/error.h"
#include "image/image.h"
#include "loaded_model.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace spdinfer::python {
namespace {

// slice=640 -> (640, 640); slice=(640, 480) -> width 640, height 480.
std::optional<std::pair<long long, long long>> slice_size(const py::object& slice) {
  if (slice.is_none()) return std::nullopt;
  if (py::isinstance<py::int_>(slice)) {
    const long long side = slice.cast<long long>();
    return std::make_pair(side, side);
  }
  try {
    return slice.cast<std::pair<long long, long long>>();
  } catch (const py::cast_error&) {
    throw Error("slice=" + py::repr(slice).cast<std::string>() + ": expected (width, height) in pixels, or one side");
  }
}

// classes=3, classes='person' or classes=[0, 'bus']: ids (int) and names (str), as the command's
// --classes takes them.
using ClassItem = std::variant<long long, std::string>;
ClassItem class_item(const py::handle& item, const py::object& classes) {
  // bool is an int to Python, but classes=True is a mistake, not class 1.
  if (py::isinstance<py::int_>(item) && !py::isinstance<py::bool_>(item)) return item.cast<long long>();
  if (py::isinstance<py::str>(item)) return item.cast<std::string>();
  throw Error("classes=" + py::repr(classes).cast<std::string>() +
              ": expected a class id (int), a class name (str) or a list of them");
}

std::optional<std::vector<ClassItem>> class_list(const py::object& classes) {
  if (classes.is_none()) return std::nullopt;
  if (py::isinstance<py::int_>(classes) || py::isinstance<py::str>(classes))
    return std::vector<ClassItem>{class_item(classes, classes)};
  if (!py::isinstance<py::sequence>(classes))
    throw Error("classes=" + py::repr(classes).cast<std::string>() +
                ": expected a class id (int), a class name (str) or a list of them");
  std::vector<ClassItem> items;
  for (const py::handle item : classes.cast<py::sequence>()) items.push_back(class_item(item, classes));
  return items;
}

constexpr const char* kLoadDoc = R"(load(path, threads=1) -> Model

Load a spdinfer model file (.safetensors written by spdinfer's converter): a
YOLOv5-family detector or a ResNet-SPD classifier.

path: str or os.PathLike.
threads: threads the engine uses for each call (1 to 256). One Model may also
    be called from many Python threads at once; each call runs with the GIL
    released.

Raises spdinfer.Error with the command's message ("PATH: what is wrong").)";

constexpr const char* kDetectDoc = R"(detect(images, conf=0.25, iou=0.45, max_det=1000, classes=None, agnostic=False,
       img_size=None, slice=None, overlap=0.2, full_pass=True, merge='nmm',
       match='ios', merge_thres=0.5, tile_batch=8) -> Detections | list[Detections]

Detect objects as `spdinfer detect` does (YOLOv5's detect.py): letterbox,
forward pass, NMS, boxes in the image's pixels.

images: a file path (str or os.PathLike; decoded by the engine, as the command
    does), an (H, W, 3) uint8 RGB array (PIL's layout; numpy.asarray(pil_image)),
    or a list of these. One image gives one Detections, a list gives a list.
conf, iou: confidence and NMS IoU thresholds, 0 to 1.
max_det: most detections kept per image.
classes: keep only these classes: a class id (int), a class name (str, as
    in info()['names']) or a list mixing them.
agnostic: one NMS over all classes.
img_size: network input's longest side (32 to 8192; default: the input size
    the model file records), rounded up to the model's stride with a warning.
slice: sliced inference over native-resolution tiles for small objects:
    (width, height) or one side, 32 to 20000 pixels. The options below apply
    only with it:
overlap: share of a tile shared with the next (0 to 0.95).
full_pass: also run the whole letterboxed image, for objects larger than a tile.
merge: 'nmm' (merge the pieces of an object cut by tiles) or 'nms'.
match: boxes match by 'ios' (intersection over the smaller) or 'iou'.
merge_thres: boxes match when the metric is above it.
tile_batch: tiles per forward pass (1 to 1024).

Each Detections has .xyxy, an (N, 6) float32 array of rows
x1, y1, x2, y2, confidence, class (YOLOv5's results.xyxy), highest confidence
first, and .names, the model's class names.

Raises spdinfer.Error for a bad image, array or argument, or a classifier model.)";

constexpr const char* kClassifyDoc = R"(classify(images, topk=5) -> (indices, probabilities) | list of them

Classify as `spdinfer classify` does: the model's preprocessing, forward pass,
softmax. Per image, the topk most probable classes, highest first: indices
(int64 array) and probabilities (float32 array). `images` as for detect().

Raises spdinfer.Error for a bad image or array, or a detector model.)";

constexpr const char* kRunDoc = R"(run(input, outputs=None) -> numpy.ndarray | dict[str, numpy.ndarray]

The raw network, as `spdinfer run`: input is an (N, 3, H, W) float32 array,
already preprocessed (non-contiguous arrays are copied). Returns the model's
output (float32), or with outputs=[name, ...] (PyTorch module names, as
`spdinfer run --outputs`) a dict of those layers' outputs.

Raises spdinfer.Error for an array of another dtype or shape, an unknown layer,
or an input the network cannot take.)";

}  // namespace
}  // namespace spdinfer::python

PYBIND11_MODULE(_spdinfer, m) {
  using namespace spdinfer::python;
  m.doc() = "spdinfer's engine: load a model file, then detect(), classify() or run().";
  m.attr("__version__") = SPDINFER_VERSION;
  // The docstrings start with their own Python signatures (with defaults); pybind11's would show
  // C++ types such as `object` and repeat them.
  py::options options;
  options.disable_function_signatures();
  static py::exception<spdinfer::Error> error(m, "Error", PyExc_ValueError);
  error.doc() = "What is wrong with a file, an image, an array or an argument, in one line "
                "(the spdinfer command's message). A ValueError.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const spdinfer::Error& e) {
      error(e.what());
    }
  });

  py::class_<Detections>(m, "Detections", "One image's detections (see Model.detect).")
      .def_readonly("xyxy", &Detections::xyxy,
                    "(N, 6) float32: x1, y1, x2, y2, confidence, class; highest confidence first")
      .def_readonly("names", &Detections::names, "the model's class names, by class id")
      .def_readonly("image", &Detections::image, "the file, or 'images[i]' for an array")
      .def_readonly("width", &Detections::width, "the image's width in pixels")
      .def_readonly("height", &Detections::height, "the image's height in pixels")
      .def("__len__", [](const Detections& d) { return d.xyxy.shape(0); })
      .def("__repr__", &Detections::repr)
      .def(py::pickle(
          [](const Detections& d) { return py::make_tuple(d.xyxy, d.names, d.image, d.width, d.height); },
          [](const py::tuple& t) {
            Detections d{t[0].cast<py::array_t<float>>(), t[1].cast<std::vector<std::string>>(),
                         t[2].cast<std::string>(), t[3].cast<int>(), t[4].cast<int>()};
            if (d.xyxy.ndim() != 2 || d.xyxy.shape(1) != 6) throw spdinfer::Error("Detections: xyxy is not (N, 6)");
            return d;
          }));

  py::class_<LoadedModel, std::shared_ptr<LoadedModel>>(m, "Model",
                                                        "A loaded model file (see spdinfer.load). Thread-safe.")
      .def_property_readonly("info", &LoadedModel::info,
                             "dict: family ('yolov5' or 'resnet_spd'), path, classes, names, input_size "
                             "(height, width), parameters, metadata; detectors add strides and stride, "
                             "classifiers resize")
      .def_property_readonly("path", &LoadedModel::path, "the model file")
      .def_property_readonly("threads", &LoadedModel::threads, "threads the engine uses per call")
      .def(
          "detect",
          [](const LoadedModel& self, const py::object& images, double conf, double iou, long long max_det,
             const py::object& classes, bool agnostic, std::optional<long long> img_size, const py::object& slice,
             double overlap, bool full_pass, const std::string& merge, const std::string& match,
             double merge_thres, long long tile_batch) {
            DetectArguments a;
            a.conf = conf;
            a.iou = iou;
            a.max_det = max_det;
            a.classes = class_list(classes);
            a.agnostic = agnostic;
            a.img_size = img_size;
            a.slice = slice_size(slice);
            a.overlap = overlap;
            a.full_pass = full_pass;
            a.merge = merge;
            a.match = match;
            a.merge_thres = merge_thres;
            a.tile_batch = tile_batch;
            return self.detect(images, a);
          },
          kDetectDoc, "images"_a, "conf"_a = 0.25, "iou"_a = 0.45, "max_det"_a = 1000,
          "classes"_a = py::none(), "agnostic"_a = false, "img_size"_a = py::none(), "slice"_a = py::none(),
          "overlap"_a = 0.2, "full_pass"_a = true, "merge"_a = "nmm", "match"_a = "ios", "merge_thres"_a = 0.5,
          "tile_batch"_a = 8)
      .def("classify", &LoadedModel::classify, kClassifyDoc, "images"_a, "topk"_a = 5)
      .def("run", &LoadedModel::run, kRunDoc, "input"_a, "outputs"_a = py::none())
      .def("__repr__",
           [](const LoadedModel& self) {
             return "spdinfer.Model(" + py::repr(py::str(self.path())).cast<std::string>() + ", family='" +
                    self.info()["family"].cast<std::string>() + "', threads=" + std::to_string(self.threads()) +
                    ")";
           })
      // Pickled as its file and threads, loaded again where it is unpickled
      // (a worker process): the weights are not copied through the pickle.
      .def(py::pickle([](const LoadedModel& self) { return py::make_tuple(self.path(), self.threads()); },
                      [](const py::tuple& t) {
                        return std::make_shared<LoadedModel>(t[0].cast<std::string>(), t[1].cast<int>());
                      }));

  m.def(
      "load",
      [](const py::object& path, int threads) {
        const std::string file = py::module_::import("os").attr("fsdecode")(path).cast<std::string>();
        return std::make_shared<LoadedModel>(file, threads);
      },
      kLoadDoc, "path"_a, "threads"_a = 1);

  m.def(
      "load_image",
      [](const py::object& path) {
        const std::string file = py::module_::import("os").attr("fsdecode")(path).cast<std::string>();
        spdinfer::Image image;
        {
          py::gil_scoped_release unlocked;
          image = spdinfer::load_image(file);
        }
        return array_from_image(image);
      },
      "load_image(path) -> numpy.ndarray\n\nA JPEG, PNG or BMP file decoded by the engine, as detect() and "
      "classify() decode files: an (H, W, 3) uint8 RGB array. Raises spdinfer.Error.",
      "path"_a);
}
