# exporter_layer(NAME SOURCES ... [LAYERS ...] [LINK ...])
#
# Makes the static library cloudaware_<NAME> of the folder exporter/<NAME>,
# linked to the layers it builds on (LAYERS) and to outside libraries
# (LINK). A layer may include its own headers and those of the layers below
# it, directly or through another layer; including any other exporter header,
# or one of the simulator's, fails the build with a line naming the file and
# the header.
function(exporter_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LAYERS;LINK")
  add_library(cloudaware_${name} STATIC ${arg_SOURCES})
  target_include_directories(cloudaware_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  set(allowed ${name})
  foreach(layer ${arg_LAYERS})
    target_link_libraries(cloudaware_${name} PUBLIC cloudaware_${layer})
    get_property(below GLOBAL PROPERTY CLOUDAWARE_LAYER_${layer})
    list(APPEND allowed ${below})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set_property(GLOBAL PROPERTY CLOUDAWARE_LAYER_${name} ${allowed})
  target_link_libraries(cloudaware_${name} PUBLIC ${arg_LINK})
  file(GLOB headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.h)
  _exporter_include_check(cloudaware_${name} ${name} "${allowed}"
    ${arg_SOURCES} ${headers})
endfunction()

# exporter_check_layers(TARGET SOURCES ... LAYERS ...): the same check for
# a target that is not a layer (the executable).
function(exporter_check_layers target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LAYERS")
  set(allowed "")
  foreach(layer ${arg_LAYERS})
    get_property(below GLOBAL PROPERTY CLOUDAWARE_LAYER_${layer})
    list(APPEND allowed ${below})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  _exporter_include_check(${target} ${target} "${allowed}" ${arg_UNPARSED_ARGUMENTS})
endfunction()

function(_exporter_include_check target name allowed)
  set(files "")
  foreach(f ${ARGN})
    get_filename_component(abs ${f} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND files ${abs})
  endforeach()
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/layer_checks/${name}.stamp)
  string(REPLACE ";" "," allowed_arg "${allowed}")
  string(REPLACE ";" "," files_arg "${files}")
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DLAYER=${name} -DALLOWED=${allowed_arg}
      -DFILES=${files_arg} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DSTAMP=${stamp}
      -P ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/check_includes.cmake
    COMMENT "Checking the includes of layer ${name}"
    VERBATIM)
  target_sources(${target} PRIVATE ${stamp})
endfunction()
