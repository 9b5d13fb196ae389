// engine/chat/jinja_runtime.cc — see jinja_runtime.h.
//
// The Python side is the module kGlue below, run once in a module of its
// own. Its two entry points catch every exception and return tuples, so the
// C++ side only sees errors from the calls themselves (out of memory).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
// Python.h first, as its documentation requires.

#include "engine/chat/jinja_runtime.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace inferd::engine {

namespace {

constexpr char kGlue[] = R"py(
import datetime
import json

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.sandbox


class _Raised(jinja2.exceptions.TemplateError):
    """raise_exception(message) called by a template."""


class _GenerationBlock(jinja2.ext.Extension):
    # HF's {% generation %}...{% endgeneration %} marks assistant text for
    # training masks; rendering keeps its body as it is.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_body")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                      separators=separators, sort_keys=sort_keys)


def _raise_exception(message):
    raise _Raised(message)


def _strftime_now(fmt):
    return datetime.datetime.now().strftime(fmt)


_env = jinja2.sandbox.ImmutableSandboxedEnvironment(
    trim_blocks=True, lstrip_blocks=True,
    extensions=[_GenerationBlock, jinja2.ext.loopcontrols])
_env.filters["tojson"] = _tojson
_env.globals["raise_exception"] = _raise_exception
_env.globals["strftime_now"] = _strftime_now


def _describe(e):
    if isinstance(e, jinja2.TemplateSyntaxError):
        return f"line {e.lineno}: {e.message}"
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def compile_template(source):
    """(template, None) or (None, message)."""
    try:
        return (_env.from_string(source), None)
    except Exception as e:
        return (None, _describe(e))


def render(template, context_json, now, max_chars):
    """(text, None, None) or (None, kind, message); kind: raised, error, too_large."""
    try:
        context = json.loads(context_json)
        if now is not None and "strftime_now" not in context:
            fixed = datetime.datetime(*now)
            context["strftime_now"] = lambda fmt: fixed.strftime(fmt)
        pieces = []
        size = 0
        for piece in template.generate(**context):
            size += len(piece)
            if size > max_chars:
                return (None, "too_large", f"the rendering exceeds {max_chars} characters")
            pieces.append(piece)
        return ("".join(pieces), None, None)
    except _Raised as e:
        return (None, "raised", str(e))
    except Exception as e:
        return (None, "error", _describe(e))
)py";

// The glue's entry points; the module holding them is never released.
struct Runtime {
  PyObject* compile_template = nullptr;
  PyObject* render = nullptr;
};

// Holds the GIL for its scope (any thread; the interpreter must be started).
class GilLock {
 public:
  GilLock() : state_(PyGILState_Ensure()) {}
  ~GilLock() { PyGILState_Release(state_); }
  GilLock(const GilLock&) = delete;
  GilLock& operator=(const GilLock&) = delete;

 private:
  PyGILState_STATE state_;
};

// The pending Python exception as "Type: message", cleared. GIL held.
std::string TakePythonError() {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  std::string out = "unknown Python error";
  if (type != nullptr) out = reinterpret_cast<PyTypeObject*>(type)->tp_name;
  if (value != nullptr) {
    PyObject* text = PyObject_Str(value);
    const char* utf8 = text != nullptr ? PyUnicode_AsUTF8(text) : nullptr;
    if (utf8 != nullptr && *utf8 != '\0') absl::StrAppend(&out, ": ", utf8);
    Py_XDECREF(text);
  }
  PyErr_Clear();
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
  return out;
}

// A Python str as UTF-8; false (error cleared) for one that has no UTF-8
// form (a lone surrogate). GIL held.
bool ToUtf8(PyObject* str, std::string* out) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(str, &size);
  if (data == nullptr) {
    PyErr_Clear();
    return false;
  }
  out->assign(data, static_cast<size_t>(size));
  return true;
}

// Runs kGlue; the GIL is held by the caller.
absl::StatusOr<const Runtime*> LoadGlue() {
  PyObject* module = PyModule_New("inferd_chat_jinja");
  if (module == nullptr) return absl::InternalError(TakePythonError());
  PyObject* globals = PyModule_GetDict(module);  // borrowed
  PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
  PyObject* result = PyRun_String(kGlue, Py_file_input, globals, globals);
  if (result == nullptr) {
    std::string error = TakePythonError();
    Py_DECREF(module);
    return absl::FailedPreconditionError(
        absl::StrCat("chat templates need Python's Jinja2 (Debian: python3-jinja2): ", error));
  }
  Py_DECREF(result);
  auto* runtime = new Runtime;  // lives as long as the process
  runtime->compile_template = PyDict_GetItemString(globals, "compile_template");
  runtime->render = PyDict_GetItemString(globals, "render");
  INFERD_CHECK(runtime->compile_template != nullptr && runtime->render != nullptr);
  // `module` is kept: the entry points above are borrowed from its dict.
  return runtime;
}

absl::StatusOr<const Runtime*> StartRuntime() {
  if (Py_IsInitialized()) {  // a host process already runs Python
    GilLock gil;
    return LoadGlue();
  }
  PyPreConfig preconfig;
  PyPreConfig_InitIsolatedConfig(&preconfig);
  preconfig.allocator = PYMEM_ALLOCATOR_MALLOC;
  preconfig.utf8_mode = 1;
  PyStatus status = Py_PreInitialize(&preconfig);
  if (PyStatus_Exception(status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start the embedded Python for chat templates: ",
                     status.err_msg != nullptr ? status.err_msg : "unknown error"));
  }
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.install_signal_handlers = 0;
  config.write_bytecode = 0;
  config.site_import = 1;  // Debian's site adds /usr/lib/python3/dist-packages
  status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start the embedded Python for chat templates: ",
                     status.err_msg != nullptr ? status.err_msg : "unknown error"));
  }
  absl::StatusOr<const Runtime*> runtime = LoadGlue();
  // Releases the GIL this thread got from initialization: from here on
  // every caller takes it with GilLock.
  PyEval_SaveThread();
  return runtime;
}

const absl::StatusOr<const Runtime*>& GetRuntime() {
  static const absl::StatusOr<const Runtime*>* const runtime =
      new absl::StatusOr<const Runtime*>(StartRuntime());
  return *runtime;
}

}  // namespace

struct JinjaTemplate::Compiled {
  explicit Compiled(PyObject* object) : template_object(object) {}
  ~Compiled() {
    GilLock gil;
    Py_DECREF(template_object);
  }
  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;

  PyObject* template_object;  // owned reference
};

absl::StatusOr<JinjaTemplate> JinjaTemplate::Compile(absl::string_view source) {
  const absl::StatusOr<const Runtime*>& runtime = GetRuntime();
  if (!runtime.ok()) return runtime.status();
  GilLock gil;
  PyObject* text =
      PyUnicode_DecodeUTF8(source.data(), static_cast<Py_ssize_t>(source.size()), "strict");
  if (text == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("chat template is not UTF-8: ", TakePythonError()));
  }
  PyObject* result = PyObject_CallOneArg((*runtime)->compile_template, text);
  Py_DECREF(text);
  if (result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("chat template does not compile: ", TakePythonError()));
  }
  INFERD_CHECK(PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 2);
  PyObject* compiled = PyTuple_GET_ITEM(result, 0);  // borrowed
  if (compiled == Py_None) {
    std::string message;
    if (!ToUtf8(PyTuple_GET_ITEM(result, 1), &message)) message = "(message not UTF-8)";
    Py_DECREF(result);
    return absl::InvalidArgumentError(absl::StrCat("chat template does not compile: ", message));
  }
  Py_INCREF(compiled);
  Py_DECREF(result);
  return JinjaTemplate(std::make_shared<const Compiled>(compiled));
}

absl::StatusOr<std::string> JinjaTemplate::Render(absl::string_view context_json,
                                                  std::optional<absl::CivilSecond> now,
                                                  int64_t max_output_bytes) const {
  const absl::StatusOr<const Runtime*>& runtime = GetRuntime();
  INFERD_CHECK(runtime.ok());  // a JinjaTemplate exists only once it started
  GilLock gil;
  PyObject* context = PyUnicode_DecodeUTF8(context_json.data(),
                                           static_cast<Py_ssize_t>(context_json.size()), "strict");
  if (context == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("chat template input is not UTF-8: ", TakePythonError()));
  }
  PyObject* now_tuple = Py_None;
  Py_INCREF(now_tuple);
  if (now.has_value()) {
    Py_DECREF(now_tuple);
    now_tuple = Py_BuildValue(
        "(LLLLLL)", static_cast<long long>(now->year()), static_cast<long long>(now->month()),
        static_cast<long long>(now->day()), static_cast<long long>(now->hour()),
        static_cast<long long>(now->minute()), static_cast<long long>(now->second()));
  }
  PyObject* limit = PyLong_FromLongLong(static_cast<long long>(max_output_bytes));
  PyObject* result = nullptr;
  if (now_tuple != nullptr && limit != nullptr) {
    result = PyObject_CallFunctionObjArgs((*runtime)->render, compiled_->template_object, context,
                                          now_tuple, limit, nullptr);
  }
  Py_DECREF(context);
  Py_XDECREF(now_tuple);
  Py_XDECREF(limit);
  if (result == nullptr) {
    return absl::InternalError(absl::StrCat("chat template: ", TakePythonError()));
  }
  INFERD_CHECK(PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 3);
  std::string text;
  absl::Status status;
  if (PyTuple_GET_ITEM(result, 0) != Py_None) {
    if (!ToUtf8(PyTuple_GET_ITEM(result, 0), &text)) {
      status =
          absl::InvalidArgumentError("chat template output has no UTF-8 form (a lone surrogate)");
    } else if (static_cast<int64_t>(text.size()) > max_output_bytes) {
      status = absl::InvalidArgumentError(absl::StrCat("chat template output of ", text.size(),
                                                       " bytes exceeds ", max_output_bytes));
    }
  } else {
    std::string kind;
    std::string message;
    if (!ToUtf8(PyTuple_GET_ITEM(result, 1), &kind)) kind = "error";
    if (!ToUtf8(PyTuple_GET_ITEM(result, 2), &message)) message = "(message not UTF-8)";
    if (kind == "raised") {
      status = absl::InvalidArgumentError(absl::StrCat("chat template raised: ", message));
    } else {
      status = absl::InvalidArgumentError(absl::StrCat("chat template failed: ", message));
    }
  }
  Py_DECREF(result);
  if (!status.ok()) return status;
  return text;
}

}  // namespace inferd::engine
