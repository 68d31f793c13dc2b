"""Book ch. 5.4: the price of 2 apples with 10% tax, forward and backward through MulLayers."""
import numpy as np

from pybp.layer_naive import MulLayer


def main():
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    print("price:", int(np.round(price)))
    print("dApple:", dapple)
    print("dApple_num:", int(np.round(dapple_num)))
    print("dTax:", dtax)
    return price, dapple, dapple_num, dtax


if __name__ == "__main__":
    main()
