// RUN: xfmr-opt %s -xfmr-emit-kernel-entries | FileCheck %s

// Every kernel gets `void NAME_entry(void **buffers, i64 n, i64 pos,
// i64 begin, i64 end)` that loads its buffer pointers and calls it; the
// kernel becomes internal.
// CHECK-LABEL: llvm.func internal @xk_add_0(
// CHECK: llvm.func @xk_add_0_entry(%[[BUFS:.+]]: !llvm.ptr, %[[N:.+]]: i64, %[[POS:.+]]: i64, %[[B:.+]]: i64, %[[E:.+]]: i64)
// CHECK: %[[P0:.+]] = llvm.getelementptr %[[BUFS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A:.+]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P1:.+]] = llvm.getelementptr %[[BUFS]][1]
// CHECK: %[[BB:.+]] = llvm.load %[[P1]]
// CHECK: %[[P2:.+]] = llvm.getelementptr %[[BUFS]][2]
// CHECK: %[[C:.+]] = llvm.load %[[P2]]
// CHECK: llvm.call @xk_add_0(%[[A]], %[[BB]], %[[C]], %[[N]], %[[POS]], %[[B]], %[[E]])
// CHECK-NOT: @helper_entry
llvm.func @xk_add_0(%a: !llvm.ptr, %b: !llvm.ptr, %c: !llvm.ptr, %n: i64, %pos: i64, %begin: i64, %end: i64) attributes {xfmr.kernel} {
  llvm.return
}
llvm.func @helper() {
  llvm.return
}
