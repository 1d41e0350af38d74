module floe/selftests/gotls

go 1.19
