module floe/selftests/gostack

go 1.19
