module floe/selftests/gowfail

go 1.19
