"""CPU kernels: the same functions as ``ppugatit/layers.py``, computed faster.

``cpu.py`` holds the kernels and their switches, ``malloc.py`` the allocator setting (it
imports nothing heavy, so that the official code's benchmark process can share it).
``ppugatit/device.py`` switches them on, once, from the config and the device; every one is
exact up to float32 rounding, and the alignment tool passes with them on and off.

What each buys. Measured by ``python research/bench_kernels.py``: the training step (and the
generator's forward) with every kernel on, against the same with that one off, in turns in
one process, median of the turns (the allocator setting in child processes started in
turns). On / off time, so below 1 is a gain; light U-GAT-IT at ch 8/64 px (the demo), ch 16/
128 px and ch 64/256 px; Intel Xeon (Ice Lake) @ 2.60 GHz, 2 cores, AVX-512, no AMX. Tables,
commands and the AMD EPYC history: docs/benchmarks.md, "Each CPU kernel, on and off".

=========================  ==========================  ===================  ============
kernel                     replaces                    step 64 / 128 / 256  forward 128
=========================  ==========================  ===================  ============
``onednn_conv``            eager im2col + GEMM conv    1.08 / 0.78 / 0.79   0.80
``pad_gradient``           pad3d and its gradient      0.86 / 0.81 / 0.88   0.78
``upsample_gradient``      nearest_interp's gradient   1.01 / 0.97 / 1.03   0.95
``fused_norm``             written-out mean, variance  0.63 / 0.50 / 0.63   0.49
``grouped_spectral_norm``  two D calls per update      1.01 / 0.99 / 0.92   (training)
``malloc``                 glibc's unmap-on-free       0.99 / 0.94 / 0.97   (training)
=========================  ==========================  ===================  ============

- ``onednn_conv``: convolutions from ``Kernels.onednn_min_flops`` up as cached oneDNN programs.
  Paddle's eager CPU convolution is im2col plus a single-threaded GEMM; oneDNN is reached only
  from static programs, each with a fixed cost of about 0.5 ms, which is why small ones stay
  eager. The one setting chosen by CPU: 30 MFLOP on Intel with AVX-512 (light-128 step 2-3%
  faster than at 8 MFLOP, in turns in one process), 8 MFLOP elsewhere (measured per conv
  shape on AMD EPYC).
- ``pad_gradient``: reflection padding with a hand-written gradient, instead of pad3d. On maps
  up to 160 px (the gradient) and 48 px (the forward) it is two products with a 0/1 fold
  matrix, the same sums in the same order; on larger maps slices that add only the edges. The
  products took the light-128 step from 1.964 to 1.699 s (0.87x; demo 0.89x, light-256 0.96x;
  old and new in turns in one process).
- ``upsample_gradient``: nearest 2x up-sampling as a broadcast whose gradient is one sum per
  2 x 2 block. Within noise on this Intel machine; 1-2% on AMD EPYC; kept, being exact.
- ``fused_norm``: AdaILN/ILN's statistics through two fused instance-norm kernels (the
  unbiased variance by rescaling epsilon), half the time of the reference.
- ``grouped_spectral_norm``: U-GAT-IT's D update calls each discriminator once on
  ``[real; fake]``, its spectral norms stepping twice, so one convolution serves both.
- ``malloc.keep_freed_memory``: freed blocks stay in the heap for the next step instead of
  being unmapped and page-faulted anew; it pays where tensors are large.

No kernel is slower than its reference where the step's time is (128 px and up) on either CPU
family, so each is on everywhere; at 64 px the oneDNN convolutions cost the training step 8% on
Intel (the figure above, at 8 MFLOP; they take 19% off inference there), and the demo step is
at or below the official code's all the same.
"""
