/* Every unrolled Comba kernel agrees with the schoolbook product. */
#include "qcalc/bigint.h"
#include "testlib.h"

#include <stdint.h>

void test_comba(void)
{
    uint32_t a[64], b[64], r1[128], r2[128];
    int kernels = 0;
    for (size_t n = 1; n <= 32; n++) {
        for (int round = 0; round < 20; round++) {
            for (size_t i = 0; i < n; i++) {
                /* mix random limbs with all-ones limbs to stress the carries */
                a[i] = round % 3 == 0 ? 0xffffffffu : (uint32_t)tl_rand();
                b[i] = round % 5 == 0 ? 0xffffffffu : (uint32_t)tl_rand();
            }
            bi_mag_mul_school(r2, a, n, b, n);
            if (bi_mag_mul_comba(r1, a, b, n)) {
                kernels += round == 0;
                CHECK(memcmp(r1, r2, 2 * n * sizeof r1[0]) == 0);
            }
            bi_mag_mul_school(r2, a, n, a, n);
            if (bi_mag_sqr_comba(r1, a, n))
                CHECK(memcmp(r1, r2, 2 * n * sizeof r1[0]) == 0);
        }
    }
    CHECK(kernels >= 10);
}
