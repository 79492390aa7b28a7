# The plots of report.md, written by `shiftnas report`. Paths are relative:
# restyle, then redraw with `gnuplot plots.gp` in this directory. Data: data/*.dat.
set encoding utf8
set terminal pngcairo size 900,600 enhanced font 'sans,11'
set datafile missing '?'
set grid

# 1. test accuracy against MACs: mean over seeds with the standard deviation,
# each seed faint, and the Pareto front of every searched subnet
set output 'accuracy_vs_macs.png'
set title 'Searched subnets: test accuracy against MACs (inherited weights)'
set xlabel 'MACs (millions)'
set ylabel 'test accuracy (%)'
set key default
set key bottom right
set autoscale
plot \
  'data/seeds_shift-frozen_generator.dat' using 3:4 with points pt 7 ps 0.6 lc rgb '#A01f77b4' notitle, \
  'data/accuracy_shift-frozen_generator.dat' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#1f77b4' title 'shift-frozen (generator)', \
  'data/seeds_shift-frozen_evolution.dat' using 3:4 with points pt 7 ps 0.6 lc rgb '#A0ff7f0e' notitle, \
  'data/accuracy_shift-frozen_evolution.dat' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#ff7f0e' title 'shift-frozen (evolution)', \
  'data/seeds_shift_generator.dat' using 3:4 with points pt 7 ps 0.6 lc rgb '#A02ca02c' notitle, \
  'data/accuracy_shift_generator.dat' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#2ca02c' title 'shift (generator)', \
  'data/seeds_shift_evolution.dat' using 3:4 with points pt 7 ps 0.6 lc rgb '#A0d62728' notitle, \
  'data/accuracy_shift_evolution.dat' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#d62728' title 'shift (evolution)', \
  'data/pareto.dat' using 1:2 with steps lw 2 lc rgb 'black' title 'Pareto front (all searched subnets)'

# 2. sampling probability of each MACs bucket over training (shift arms)
set terminal pngcairo size 900,600 enhanced font 'sans,10'
set output 'probabilities.png'
set multiplot layout 1,2 title 'Sampling probability per MACs bucket (mean over seeds)'
set title 'shift-frozen'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-frozen.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.877–1.56 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.56–2.24 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.24–2.93 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 2.93–3.61 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 3.61–4.29 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 4.29–4.98 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 4.98–5.66 M MACs', \
  'data/probabilities_shift-frozen.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 5.66–6.34 M MACs'
set title 'shift'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.877–1.56 M MACs', \
  'data/probabilities_shift.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.56–2.24 M MACs', \
  'data/probabilities_shift.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.24–2.93 M MACs', \
  'data/probabilities_shift.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 2.93–3.61 M MACs', \
  'data/probabilities_shift.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 3.61–4.29 M MACs', \
  'data/probabilities_shift.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 4.29–4.98 M MACs', \
  'data/probabilities_shift.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 4.98–5.66 M MACs', \
  'data/probabilities_shift.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 5.66–6.34 M MACs'
unset multiplot
set autoscale

# 3. MACs of the subnets trained, per arm
set terminal pngcairo size 900,600 enhanced font 'sans,11'
set output 'macs_histogram.png'
set title 'MACs of the subnets trained (share per bin, all seeds)'
set xlabel 'MACs (millions)'
set ylabel 'share of trained subnets (%)'
set key default
set key top right
set autoscale
set xrange [0.87696:6.34128]
set yrange [0:*]
plot \
  'data/macs_histogram.dat' using 3:4 with histeps lw 2 lc rgb '#1f77b4' title 'shift-frozen', \
  'data/macs_histogram.dat' using 3:5 with histeps lw 2 lc rgb '#ff7f0e' title 'shift'
set autoscale

# 4. training loss per MACs bucket over windows of steps, mean over seeds
set terminal pngcairo size 900,600 enhanced font 'sans,10'
set output 'bucket_loss.png'
set multiplot layout 1,2 title 'Training loss per MACs bucket (mean over seeds)'
set title 'shift-frozen'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-frozen.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.877–1.56 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.56–2.24 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.24–2.93 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 2.93–3.61 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 3.61–4.29 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 4.29–4.98 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 4.98–5.66 M MACs', \
  'data/bucket_loss_shift-frozen.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 5.66–6.34 M MACs'
set title 'shift'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.877–1.56 M MACs', \
  'data/bucket_loss_shift.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.56–2.24 M MACs', \
  'data/bucket_loss_shift.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.24–2.93 M MACs', \
  'data/bucket_loss_shift.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 2.93–3.61 M MACs', \
  'data/bucket_loss_shift.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 3.61–4.29 M MACs', \
  'data/bucket_loss_shift.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 4.29–4.98 M MACs', \
  'data/bucket_loss_shift.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 4.98–5.66 M MACs', \
  'data/bucket_loss_shift.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 5.66–6.34 M MACs'
unset multiplot

# 5. convergence: validation accuracy of the largest and the smallest subnet per epoch, mean over seeds
set terminal pngcairo size 900,600 enhanced font 'sans,10'
set output 'convergence.png'
set multiplot layout 1,2 title 'Validation accuracy per epoch (mean over seeds)'
set title 'largest subnet'
set xlabel 'epoch'
set ylabel 'validation accuracy (%)'
set key default
set key below font ',8'
set autoscale
plot \
  'data/convergence_shift-frozen.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#1f77b4' title 'shift-frozen', \
  'data/convergence_shift.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#ff7f0e' title 'shift'
set title 'smallest subnet'
set xlabel 'epoch'
set ylabel 'validation accuracy (%)'
set key default
set key below font ',8'
set autoscale
plot \
  'data/convergence_shift-frozen.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#1f77b4' title 'shift-frozen', \
  'data/convergence_shift.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#ff7f0e' title 'shift'
unset multiplot
set autoscale

# 6. each shift-type run's probabilities after its last update, per bucket
set terminal pngcairo size 900,600 enhanced font 'sans,11'
set output 'final_probabilities.png'
set title 'Sampling probability per bucket after the last update (each run)'
set xlabel 'bucket index (0 = smallest MACs)'
set ylabel 'probability'
set key default
set key outside right top vertical font ',9'
set autoscale
set xrange [-0.5:7.5]
set xtics 1
set yrange [0:*]
plot \
  'data/final_probabilities.dat' using 1:2 with lines dt 2 lw 1.5 lc rgb 'black' title 'uniform', \
  'data/final_probabilities.dat' using 1:3 with linespoints pt 5 ps 0.8 lw 1.5 lc rgb '#1f77b4' title 'shift-frozen seed 1', \
  'data/final_probabilities.dat' using 1:4 with linespoints pt 6 ps 0.8 lw 1.5 lc rgb '#1f77b4' title 'shift-frozen seed 2', \
  'data/final_probabilities.dat' using 1:5 with linespoints pt 7 ps 0.8 lw 1.5 lc rgb '#1f77b4' title 'shift-frozen seed 3', \
  'data/final_probabilities.dat' using 1:6 with linespoints pt 8 ps 0.8 lw 1.5 lc rgb '#ff7f0e' title 'shift seed 1', \
  'data/final_probabilities.dat' using 1:7 with linespoints pt 5 ps 0.8 lw 1.5 lc rgb '#ff7f0e' title 'shift seed 2', \
  'data/final_probabilities.dat' using 1:8 with linespoints pt 6 ps 0.8 lw 1.5 lc rgb '#ff7f0e' title 'shift seed 3'
set xtics autofreq
set autoscale
