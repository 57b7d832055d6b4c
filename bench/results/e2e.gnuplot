set terminal pngcairo size 1400,900 font ',10'
set output 'bench/results/e2e.png'
set multiplot layout 2,2
set grid
set key top left
set title 'End-to-end latency vs offered load'
set xlabel 'offered events/s'
set ylabel 'ms'
set logscale y
plot 'bench/results/latency_curve.dat' u 1:3 w lp t 'p50', '' u 1:4 w lp t 'p99', '' u 1:5 w lp t 'p99.9', 25 w l dt 2 t '25 ms target'
unset logscale y
set yrange [0:*]
set title 'Throughput vs batch size (backlog drain)'
set xlabel 'batch size'
set ylabel 'events/s'
set logscale x 2
plot 'bench/results/batch_curve.dat' u 1:2 w lp t 'shipped pack + Redis'
unset logscale x
set title 'Throughput vs pipeline threads'
set xlabel 'threads'
set xtics 1
plot 'bench/results/threads_curve.dat' u 1:2 w lp t 'shipped pack + Redis'
set title 'Scale-out on this box: engines in one group'
set xlabel 'engine instances'
plot 'bench/results/scale_curve.dat' u 1:2 w lp t 'one Redis node', '' u 1:3 w lp t '3-master Redis Cluster'
unset multiplot
