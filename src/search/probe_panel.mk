# src/search: probe panels, fixed lists of subnets evaluated on every finished
# supernet (`shiftnas probe`): reading one against a space, drawing one per
# MACs bucket (`shiftnas space ... probes`).
libshiftnas_internal_la_SOURCES += \
	src/search/probe_panel.c
shiftnasinclude_HEADERS += \
	include/shiftnas/probes.h
