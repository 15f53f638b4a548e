# The ManagedClusterSim CMake package: `cmake --install` puts the libraries,
# their public headers and a package configuration under the prefix, so that
# another project's find_package(ManagedClusterSim) finds targets such as
# ManagedClusterSim::sim and ManagedClusterSim::testing. A project that adds
# this source tree with add_subdirectory gets the same names as aliases.
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(SIM_PACKAGE_NAME ManagedClusterSim)
set(SIM_PACKAGE_LIBRARIES
  base kms_mock kms_server etcd_store etcd_gateway apiserver apiserver_http
  sim_core sim_testing scenarios)
# Headers keep their folder names ("sim/cluster.h") under this directory, so
# that "base/" and "sim/" do not land directly in the prefix's include/.
set(SIM_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/managed_cluster_sim)
set(SIM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/${SIM_PACKAGE_NAME})

set_target_properties(sim_core PROPERTIES EXPORT_NAME sim)
set_target_properties(sim_testing PROPERTIES EXPORT_NAME testing)
foreach(library IN LISTS SIM_PACKAGE_LIBRARIES)
  get_target_property(export_name ${library} EXPORT_NAME)
  if(NOT export_name)
    set(export_name ${library})
  endif()
  add_library(${SIM_PACKAGE_NAME}::${export_name} ALIAS ${library})
  # "libbase.a" would clash with other projects' files in a shared prefix.
  set_target_properties(${library} PROPERTIES
    OUTPUT_NAME managed_cluster_sim_${library})
endforeach()

install(TARGETS ${SIM_PACKAGE_LIBRARIES}
  EXPORT ${SIM_PACKAGE_NAME}Targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${SIM_INCLUDE_DIR})
# The servers, for tests that start them as processes.
install(TARGETS sim kms-mock-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Every header but those private to one library's sources.
foreach(folder base kms-mock etcd-store apiserver sim scenarios/engine)
  get_filename_component(parent ${folder} DIRECTORY)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}
    DESTINATION ${SIM_INCLUDE_DIR}/${parent}
    FILES_MATCHING PATTERN "*.h"
    PATTERN "*_internal.h" EXCLUDE
    PATTERN "*_impl.h" EXCLUDE
    PATTERN "cluster_state.h" EXCLUDE
    REGEX "kms-mock/storage\\.h$" EXCLUDE
    PATTERN "cli" EXCLUDE)
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/apiserver/encrypted_object.pb.h
  DESTINATION ${SIM_INCLUDE_DIR}/apiserver)

install(EXPORT ${SIM_PACKAGE_NAME}Targets
  NAMESPACE ${SIM_PACKAGE_NAME}::
  DESTINATION ${SIM_CMAKE_DIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/${SIM_PACKAGE_NAME}Config.cmake.in
  ${PROJECT_BINARY_DIR}/${SIM_PACKAGE_NAME}Config.cmake
  INSTALL_DESTINATION ${SIM_CMAKE_DIR})
# Before 1.0 a minor version may change the interfaces.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/${SIM_PACKAGE_NAME}ConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/${SIM_PACKAGE_NAME}Config.cmake
  ${PROJECT_BINARY_DIR}/${SIM_PACKAGE_NAME}ConfigVersion.cmake
  DESTINATION ${SIM_CMAKE_DIR})
