# Helper functions shared by every subsystem's CMakeLists.txt.

# aisle_warnings(target): the project's warning set; errors when AISLE_WERROR is on.
function(aisle_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wimplicit-fallthrough)
  if(AISLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# aisle_library(NAME SOURCES a.cc b.cc DEPS x y): static library aisle_NAME, alias aisle::NAME,
# public headers under include/, private ones beside the sources.
function(aisle_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(aisle_${name} STATIC ${ARG_SOURCES})
  add_library(aisle::${name} ALIAS aisle_${name})
  target_include_directories(aisle_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                           PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(aisle_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  aisle_warnings(aisle_${name})
endfunction()

# aisle_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with CTest.
function(aisle_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE AISLE_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  aisle_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()
