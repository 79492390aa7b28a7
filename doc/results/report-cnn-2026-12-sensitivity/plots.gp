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
  'data/seeds_shift_generator.dat' using 3:4 with points pt 7 ps 0.6 lc rgb '#A01f77b4' notitle, \
  'data/accuracy_shift_generator.dat' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#1f77b4' title 'shift (generator)', \
  'data/seeds_shift_evolution.dat' using 3:4 with points pt 7 ps 0.6 lc rgb '#A0ff7f0e' notitle, \
  'data/accuracy_shift_evolution.dat' using 2:3:4 with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '#ff7f0e' title 'shift (evolution)', \
  'data/pareto.dat' using 1:2 with steps lw 2 lc rgb 'black' title 'Pareto front (all searched subnets)'

# 2. sampling probability of each MACs bucket over training (shift arms)
set terminal pngcairo size 900,1600 enhanced font 'sans,10'
set output 'probabilities.png'
set multiplot layout 4,2 title 'Sampling probability per MACs bucket (mean over seeds)'
set title 'shift'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/probabilities_shift.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/probabilities_shift.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/probabilities_shift.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/probabilities_shift.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/probabilities_shift.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/probabilities_shift.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/probabilities_shift.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-interval200'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-interval200.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/probabilities_shift-interval200.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-interval50'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-interval50.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/probabilities_shift-interval50.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-k16'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-k16.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.28 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.28–1.76 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 1.76–2.24 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 2.24–2.72 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 2.72–3.2 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 3.2–3.68 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 3.68–4.16 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 4.16–4.64 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:10 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#bcbd22' title 'bucket 8: 4.64–5.12 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:11 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#17becf' title 'bucket 9: 5.12–5.6 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:12 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 10: 5.6–6.08 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:13 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 11: 6.08–6.56 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:14 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 12: 6.56–7.04 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:15 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 13: 7.04–7.52 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:16 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 14: 7.52–8 M MACs', \
  'data/probabilities_shift-k16.dat' using 1:17 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 15: 8–8.48 M MACs'
set title 'shift-k4'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-k4.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–2.72 M MACs', \
  'data/probabilities_shift-k4.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 2.72–4.64 M MACs', \
  'data/probabilities_shift-k4.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 4.64–6.56 M MACs', \
  'data/probabilities_shift-k4.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 6.56–8.48 M MACs'
set title 'shift-lr0.001'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-lr0_001.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/probabilities_shift-lr0_001.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-lr0.01'
set xlabel 'training step'
set ylabel 'probability'
set key default
set key below font ',8'
set autoscale
set yrange [0:*]
plot \
  'data/probabilities_shift-lr0_01.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/probabilities_shift-lr0_01.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
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
set xrange [0.802328:8.4767]
set yrange [0:*]
plot \
  'data/macs_histogram.dat' using 3:4 with histeps lw 2 lc rgb '#1f77b4' title 'shift', \
  'data/macs_histogram.dat' using 3:5 with histeps lw 2 lc rgb '#ff7f0e' title 'shift-interval200', \
  'data/macs_histogram.dat' using 3:6 with histeps lw 2 lc rgb '#2ca02c' title 'shift-interval50', \
  'data/macs_histogram.dat' using 3:7 with histeps lw 2 lc rgb '#d62728' title 'shift-k16', \
  'data/macs_histogram.dat' using 3:8 with histeps lw 2 lc rgb '#9467bd' title 'shift-k4', \
  'data/macs_histogram.dat' using 3:9 with histeps lw 2 lc rgb '#8c564b' title 'shift-lr0.001', \
  'data/macs_histogram.dat' using 3:10 with histeps lw 2 lc rgb '#e377c2' title 'shift-lr0.01'
set autoscale

# 4. training loss per MACs bucket over windows of steps, mean over seeds
set terminal pngcairo size 900,1600 enhanced font 'sans,10'
set output 'bucket_loss.png'
set multiplot layout 4,2 title 'Training loss per MACs bucket (mean over seeds)'
set title 'shift'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/bucket_loss_shift.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/bucket_loss_shift.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/bucket_loss_shift.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/bucket_loss_shift.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/bucket_loss_shift.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/bucket_loss_shift.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/bucket_loss_shift.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-interval200'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-interval200.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/bucket_loss_shift-interval200.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-interval50'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-interval50.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/bucket_loss_shift-interval50.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-k16'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-k16.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.28 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.28–1.76 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 1.76–2.24 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 2.24–2.72 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 2.72–3.2 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 3.2–3.68 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 3.68–4.16 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 4.16–4.64 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:10 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#bcbd22' title 'bucket 8: 4.64–5.12 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:11 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#17becf' title 'bucket 9: 5.12–5.6 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:12 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 10: 5.6–6.08 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:13 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 11: 6.08–6.56 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:14 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 12: 6.56–7.04 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:15 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 13: 7.04–7.52 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:16 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 14: 7.52–8 M MACs', \
  'data/bucket_loss_shift-k16.dat' using 1:17 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 15: 8–8.48 M MACs'
set title 'shift-k4'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-k4.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–2.72 M MACs', \
  'data/bucket_loss_shift-k4.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 2.72–4.64 M MACs', \
  'data/bucket_loss_shift-k4.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 4.64–6.56 M MACs', \
  'data/bucket_loss_shift-k4.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 6.56–8.48 M MACs'
set title 'shift-lr0.001'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-lr0_001.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/bucket_loss_shift-lr0_001.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
set title 'shift-lr0.01'
set xlabel 'training step'
set ylabel 'training loss'
set key default
set key below font ',8'
set autoscale
plot \
  'data/bucket_loss_shift-lr0_01.dat' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#1f77b4' title 'bucket 0: 0.802–1.76 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:3 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#ff7f0e' title 'bucket 1: 1.76–2.72 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:4 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#2ca02c' title 'bucket 2: 2.72–3.68 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:5 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'bucket 3: 3.68–4.64 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#9467bd' title 'bucket 4: 4.64–5.6 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:7 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#8c564b' title 'bucket 5: 5.6–6.56 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:8 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#e377c2' title 'bucket 6: 6.56–7.52 M MACs', \
  'data/bucket_loss_shift-lr0_01.dat' using 1:9 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#7f7f7f' title 'bucket 7: 7.52–8.48 M MACs'
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
  'data/convergence_shift.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#1f77b4' title 'shift', \
  'data/convergence_shift-interval200.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#ff7f0e' title 'shift-interval200', \
  'data/convergence_shift-interval50.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#2ca02c' title 'shift-interval50', \
  'data/convergence_shift-k16.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#d62728' title 'shift-k16', \
  'data/convergence_shift-k4.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#9467bd' title 'shift-k4', \
  'data/convergence_shift-lr0_001.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#8c564b' title 'shift-lr0.001', \
  'data/convergence_shift-lr0_01.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#e377c2' title 'shift-lr0.01'
set title 'smallest subnet'
set xlabel 'epoch'
set ylabel 'validation accuracy (%)'
set key default
set key below font ',8'
set autoscale
plot \
  'data/convergence_shift.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#1f77b4' title 'shift', \
  'data/convergence_shift-interval200.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#ff7f0e' title 'shift-interval200', \
  'data/convergence_shift-interval50.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#2ca02c' title 'shift-interval50', \
  'data/convergence_shift-k16.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#d62728' title 'shift-k16', \
  'data/convergence_shift-k4.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#9467bd' title 'shift-k4', \
  'data/convergence_shift-lr0_001.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#8c564b' title 'shift-lr0.001', \
  'data/convergence_shift-lr0_01.dat' using 1:4 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '#e377c2' title 'shift-lr0.01'
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
  'data/final_probabilities.dat' using 1:3 with linespoints pt 5 ps 0.8 lw 1.5 lc rgb '#1f77b4' title 'shift seed 1', \
  'data/final_probabilities.dat' using 1:4 with linespoints pt 6 ps 0.8 lw 1.5 lc rgb '#ff7f0e' title 'shift-interval200 seed 1', \
  'data/final_probabilities.dat' using 1:5 with linespoints pt 7 ps 0.8 lw 1.5 lc rgb '#2ca02c' title 'shift-interval50 seed 1', \
  'data/final_probabilities.dat' using 1:6 with linespoints pt 8 ps 0.8 lw 1.5 lc rgb '#8c564b' title 'shift-lr0.001 seed 1', \
  'data/final_probabilities.dat' using 1:7 with linespoints pt 5 ps 0.8 lw 1.5 lc rgb '#e377c2' title 'shift-lr0.01 seed 1'
set xtics autofreq
set autoscale
