module floe/selftests/gotlsfail

go 1.19
