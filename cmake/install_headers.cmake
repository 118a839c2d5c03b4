# Run by `cmake --install` (install(CODE) in CMakeLists.txt): copies the library's headers to
# <prefix>/include/spdinfer/, each `#include "engine/..."` (or image/, detect/, eval/, models/)
# rewritten to `#include "spdinfer/engine/..."`. The project's own sources keep including by the
# short path from the source root; a consumer writes `#include <spdinfer/models/detector.h>` and
# the headers that one includes are found under the same prefix, with no bare `engine/` or
# `models/` directory on the consumer's include path to collide with its own.
# In: SPDINFER_SOURCE_DIR, SPDINFER_HEADER_DIRS (a list), SPDINFER_INCLUDE_DESTINATION (absolute).
foreach(dir IN LISTS SPDINFER_HEADER_DIRS)
  file(GLOB_RECURSE headers RELATIVE ${SPDINFER_SOURCE_DIR} ${SPDINFER_SOURCE_DIR}/${dir}/*.h)
  list(APPEND all_headers ${headers})
endforeach()
list(JOIN SPDINFER_HEADER_DIRS "|" dirs_pattern)
foreach(header IN LISTS all_headers)
  file(READ ${SPDINFER_SOURCE_DIR}/${header} text)
  string(REGEX REPLACE "#include \"(${dirs_pattern})/" "#include \"spdinfer/\\1/" text "${text}")
  # Anything else quoted would not resolve once installed: refuse to install a broken tree.
  string(REGEX REPLACE "#include \"spdinfer/[^\"]*\"" "" unchecked "${text}")
  string(REGEX MATCH "#include \"[^\"]*\"" stray "${unchecked}")
  if(stray)
    message(FATAL_ERROR "${header}: ${stray} names no installed header")
  endif()
  set(destination "$ENV{DESTDIR}${SPDINFER_INCLUDE_DESTINATION}/spdinfer/${header}")
  message(STATUS "Installing: ${destination}")
  file(WRITE ${destination} "${text}")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES ${destination})
endforeach()
